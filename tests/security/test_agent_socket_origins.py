"""Only the product's own pages may open an agent's socket: a page on a sibling origin (another port, a
subdomain, another host) carries the agent's session cookie but is closed with 4403 before it hears or
sends anything. Every WebSocket route checks the Origin: the customer's socket against its queue's web
sites (PROTOCOL.md section 2), the agent's against the product's own origins."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from contactcentre.asgi import application
from contactcentre.routing import websocket_urlpatterns
from tests import factories
from tests.webchat_support import connected_chat, signed_in_cookie

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 10


async def _agent_socket(agent, *, origin: str | None, host: str = "testserver", scheme: str = "ws"):
    cookie = await database_sync_to_async(signed_in_cookie)(agent)
    headers = [(b"host", host.encode()), (b"cookie", cookie.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    communicator = WebsocketCommunicator(application, "/ws/agent/", headers=headers)
    communicator.scope["scheme"] = scheme
    return communicator


async def _outcome(communicator) -> str | int:
    """ "open" for a socket that stays open and answers, else the close code."""
    connected, code = await communicator.connect(timeout=TIMEOUT)
    if not connected:
        return code
    await communicator.send_json_to({"type": "heartbeat"})
    if await communicator.receive_nothing(timeout=0.3):
        await communicator.disconnect()
        return "open"
    output = await communicator.receive_output(timeout=TIMEOUT)
    await communicator.disconnect()
    return output.get("code", output["type"])


@pytest.mark.parametrize(
    "origin",
    [
        "http://testserver:8001",  # the same host on another port
        "http://evil.testserver",  # a subdomain
        "https://testserver",  # another scheme, so another origin
        "https://evil.example",  # another site
        "null",  # a sandboxed frame or a file
    ],
)
async def test_a_page_on_another_origin_cannot_open_an_agents_socket(agent, origin):
    ws = await _agent_socket(agent, origin=origin)

    assert await _outcome(ws) == 4403


async def test_a_refused_origin_hears_nothing_of_the_agents_chats(agent, company):
    queue = await database_sync_to_async(factories.WebchatQueueFactory)(company=company, auto_allocate=False)
    await database_sync_to_async(connected_chat)(queue, agent)
    ws = await _agent_socket(agent, origin="http://testserver:8001")

    connected, _ = await ws.connect(timeout=TIMEOUT)
    output = await ws.receive_output(timeout=TIMEOUT)

    assert output == {"type": "websocket.close", "code": 4403}
    await ws.disconnect()


async def test_the_products_own_page_opens_the_agents_socket(agent):
    ws = await _agent_socket(agent, origin="http://testserver")

    assert await _outcome(ws) == "open"


async def test_behind_tls_the_products_https_page_opens_it_and_its_http_twin_does_not(agent):
    assert await _outcome(await _agent_socket(agent, origin="https://testserver", scheme="wss")) == "open"
    assert await _outcome(await _agent_socket(agent, origin="http://testserver", scheme="wss")) == 4403


async def test_a_host_outside_allowed_hosts_is_not_an_origin_of_the_product(agent, settings):
    settings.ALLOWED_HOSTS = ["contact.example"]

    ws = await _agent_socket(agent, origin="http://evil.example", host="evil.example")

    assert await _outcome(ws) == 4403


async def test_an_origin_listed_in_csrf_trusted_origins_opens_it(agent, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://inbox.example", "https://*.agents.example"]

    assert await _outcome(await _agent_socket(agent, origin="https://inbox.example")) == "open"
    assert await _outcome(await _agent_socket(agent, origin="https://north.agents.example")) == "open"
    assert await _outcome(await _agent_socket(agent, origin="http://north.agents.example")) == 4403


async def test_a_client_that_sends_no_origin_is_not_refused_for_it(agent):
    # Browsers always send one on a WebSocket; a client without one (a script) holds the cookie itself.
    ws = await _agent_socket(agent, origin=None)

    assert await _outcome(ws) == "open"


async def test_every_websocket_route_refuses_a_foreign_origin(agent, company):
    queue = await database_sync_to_async(factories.WebchatQueueFactory)(
        company=company, auto_allocate=False, allowed_origins="https://shop.example"
    )
    chat, _ = await database_sync_to_async(connected_chat)(queue, agent)
    cookie = await database_sync_to_async(signed_in_cookie)(agent)
    paths = {
        "ws/webchat/<uuid:chat_id>/": f"/ws/webchat/{chat.pk}/",
        "ws/agent/": "/ws/agent/",
    }
    routes = [str(pattern.pattern) for pattern in websocket_urlpatterns]
    assert set(routes) == set(paths), "a new WebSocket route needs its Origin case here"

    for route in routes:
        headers = [
            (b"host", b"testserver"),
            (b"cookie", cookie.encode()),
            (b"origin", b"https://evil.example"),
        ]
        ws = WebsocketCommunicator(application, paths[route], headers=headers)
        assert await _outcome(ws) == 4403, route
