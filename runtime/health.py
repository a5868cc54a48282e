"""The health endpoint for load balancers and monitors: `GET /healthz`.

200 when this process reaches the database, the cache (Redis) and the channel layer (a message sent to a
channel of this process and received back), each within a couple of seconds; 503 otherwise, naming what
failed. It needs no login and tells nothing about any company: only which dependency answers and how fast.
"""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

TIMEOUT_SECONDS = 2.0


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache() -> None:
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("the cache did not return what was stored")
    cache.delete(key)


async def _channel_layer() -> None:
    layer = get_channel_layer()
    # A channel of this process, as each socket has: the round trip goes through Redis and back the way the
    # sockets' events go.
    channel = await layer.new_channel()
    try:
        token = uuid.uuid4().hex
        await layer.send(channel, {"type": "healthz", "token": token})
        message = await layer.receive(channel)
        if message.get("token") != token:
            raise RuntimeError("the channel layer returned another message")
    finally:
        # The pub/sub layer holds a subscription for each channel until told it is done with.
        discard = getattr(layer, "discard_channel", None)
        if discard is not None:
            await discard(channel)


async def _timed(check: Callable[[], Awaitable[None]]) -> dict:
    started = time.monotonic()
    try:
        await asyncio.wait_for(check(), TIMEOUT_SECONDS)
    except TimeoutError:
        return {"ok": False, "error": "timeout", "ms": round(TIMEOUT_SECONDS * 1000)}
    except Exception as problem:
        # The kind of failure only: a message could carry an address or a password from a URL.
        return {"ok": False, "error": type(problem).__name__}
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}


@never_cache
@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    checks = {
        "database": await _timed(sync_to_async(_database)),
        "cache": await _timed(sync_to_async(_cache)),
        "channel_layer": await _timed(_channel_layer),
    }
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503
    )
