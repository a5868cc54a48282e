"""The bare Channels baseline: one consumer relaying frames between two connections through the channel layer.

It uses the project's settings, so the same channel layer (channels_redis, same Redis, same CONFIG) as the
product, under its own prefix (set CHANNEL_LAYER_PREFIX). No database, no authentication, no engine:
`/relay/<room>/<side>/` joins the group of its side and sends every text frame to the other side's group,
exactly as the product's consumers send to a chat's or an agent's group. HTTP answers 200 for readiness.

Serve: `daphne bench.baselines.relay_asgi:application` (or uvicorn).
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcentre.settings")
django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402


class RelayConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        kwargs = self.scope["url_route"]["kwargs"]
        room, side = kwargs["room"], kwargs["side"]
        self.own_group = f"relay_{room}_{side}"
        self.peer_group = f"relay_{room}_{'b' if side == 'a' else 'a'}"
        await self.channel_layer.group_add(self.own_group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.own_group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.channel_layer.group_send(self.peer_group, {"type": "relay", "text": text_data or ""})

    async def relay(self, event: dict) -> None:
        await self.send(text_data=event["text"])


async def http_ok(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


application = ProtocolTypeRouter(
    {
        "http": http_ok,
        "websocket": URLRouter(
            [re_path(r"^relay/(?P<room>[\w-]+)/(?P<side>[ab])/$", RelayConsumer.as_asgi())]
        ),
    }
)
