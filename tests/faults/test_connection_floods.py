"""A flood of WebSocket connections from one address, against both servers: it is bounded (a few held up
to the per-address limit, the rest closed at once, the silent ones closed after the hello timeout), and
a customer elsewhere keeps chatting with an agent as usual meanwhile."""

import asyncio
import contextlib
import json
import statistics
import time
from collections import Counter

import pytest
from django.conf import settings
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from faults.clients import http_json, in_thread
from faults.scenario import Scene
from webchat.customer_socket import CustomerChatConsumer

pytestmark = pytest.mark.faults

FLOOD = 400  # connections per route and server
ELSEWHERE = "127.0.0.2"  # another client address on this machine


async def test_a_connection_flood_is_bounded_and_everyone_else_is_still_served(deployment, figures):
    scene = Scene(deployment, seed=1, agents=1, capacity=3)
    await scene.begin()
    status, chat = await asyncio.to_thread(
        http_json,
        "POST",
        scene.servers[0] + "/api/webchat/v1/chats",
        {"queue_token": scene.world.queue.token},
    )
    assert status == 201
    outcomes: Counter = Counter()
    held: list = []

    async def one(url: str) -> None:
        try:
            ws = await connect(url, open_timeout=20)
        except InvalidStatus as refusal:
            # A socket without a login is refused in the handshake (403).
            outcomes[f"refused in the handshake ({refusal.response.status_code})"] += 1
            return
        except (InvalidHandshake, OSError, TimeoutError) as failure:
            outcomes[f"failed ({type(failure).__name__}: {str(failure)[:40]})"] += 1
            return
        try:
            await asyncio.wait_for(ws.recv(), 0.5)
        except TimeoutError:
            outcomes["held"] += 1
            held.append(ws)
            return
        except ConnectionClosed:
            pass
        outcomes[f"closed at once ({ws.close_code})"] += 1

    targets = [
        url
        for server in scene.servers
        for url in (
            server.replace("http", "ws") + f"/ws/webchat/{chat['chat_id']}/",
            server.replace("http", "ws") + "/ws/agent/",
        )
    ]
    latencies: list[float] = []
    health: list[int] = []
    flood_started = time.monotonic()
    flood = asyncio.gather(*(one(url) for url in targets for _ in range(FLOOD)))
    served = asyncio.create_task(_customer_elsewhere(scene, latencies, health))
    await flood
    flooded_in = time.monotonic() - flood_started
    await served

    # The silent sockets that were held are closed by the server once the hello timeout passes.
    hello_timeout = CustomerChatConsumer.hello_timeout_seconds
    await asyncio.sleep(hello_timeout + 2)
    still_open = 0
    for ws in held:
        with contextlib.suppress(ConnectionClosed, TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.1)
        still_open += ws.close_code is None
        with contextlib.suppress(Exception):
            await ws.close()
    problems, numbers = await scene.end()
    figures.update(
        {
            "connections attempted": len(targets) * FLOOD,
            **dict(outcomes),
            "seconds to open them all": round(flooded_in, 1),
            "limit per address and server": settings.WEBSOCKET_MAX_PER_IP,
            "held sockets still open after the hello timeout": still_open,
            "messages of the customer elsewhere": len(latencies),
            "their ack latency median / max (ms)": (
                round(statistics.median(latencies) * 1000),
                round(max(latencies) * 1000),
            ),
            "health during the flood": sorted(set(health)),
        }
    )
    assert not problems, "\n".join(problems[:50])
    # Per server, no more held than the limit; every other attempt refused at once, none left hanging.
    assert 0 < outcomes["held"] <= settings.WEBSOCKET_MAX_PER_IP * len(scene.servers)
    assert not [outcome for outcome in outcomes if outcome.startswith("failed")], outcomes
    assert sum(outcomes.values()) == len(targets) * FLOOD
    assert still_open == 0
    assert len(latencies) == 10 and max(latencies) < 2.0
    assert set(health) == {200}


async def _customer_elsewhere(scene: Scene, latencies: list[float], health: list[int]) -> None:
    """A customer on another address opens a chat and exchanges ten messages with the agent."""
    server = scene.servers[1]
    status, chat = await asyncio.to_thread(
        http_json,
        "POST",
        server + "/api/webchat/v1/chats",
        {"queue_token": scene.world.queue.token},
        source=ELSEWHERE,
    )
    assert status == 201, chat
    url = server.replace("http", "ws") + f"/ws/webchat/{chat['chat_id']}/"
    async with connect(url, open_timeout=20, local_addr=(ELSEWHERE, 0)) as ws:
        await ws.send(json.dumps({"type": "hello", "customer_token": chat["customer_token"], "after_seq": 0}))
        for n in range(10):
            started = time.monotonic()
            await ws.send(
                json.dumps({"type": "message", "client_id": f"elsewhere-{n}", "text": f"Still there? {n}"})
            )
            while json.loads(await asyncio.wait_for(ws.recv(), 10)).get("type") != "ack":
                pass
            latencies.append(time.monotonic() - started)
            health.append((await in_thread(_health)(server))[0])
            await asyncio.sleep(0.2)
        await ws.send(json.dumps({"type": "end"}))


def _health(server: str) -> tuple[int, object]:
    return http_json("GET", server + "/healthz", source=ELSEWHERE)
