"""A bound on the WebSockets that one client address holds open in one server process.

Opening a socket costs the attacker nothing, and a socket that never says hello is held for the hello
timeout: without a bound, one address could hold every connection a process can serve. Past
WEBSOCKET_MAX_PER_IP open sockets from the same address (behind TRUSTED_PROXY_COUNT proxies, the address
the proxies saw), a new one is accepted and closed at once with 4429, before any consumer, session or
database work. Counted per process, in memory: a process that dies takes its counts with it.
"""

import logging
from collections import Counter

from django.conf import settings

from runtime.client_address import client_ip

logger = logging.getLogger(__name__)

CLOSE_TOO_MANY = 4429


class WebSocketLimit:
    def __init__(self, app) -> None:
        self.app = app
        self.open: Counter[str] = Counter()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        address = _address(scope)
        if self.open[address] >= settings.WEBSOCKET_MAX_PER_IP:
            logger.warning(
                "websocket refused: %s already holds %d",
                address,
                self.open[address],
                extra={"path": scope["path"]},
            )
            return await _refuse(receive, send)
        self.open[address] += 1
        try:
            return await self.app(scope, receive, send)
        finally:
            self.open[address] -= 1
            if self.open[address] <= 0:
                del self.open[address]


def _address(scope) -> str:
    headers = dict(scope.get("headers") or [])
    forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
    client = scope.get("client") or ("", 0)
    return client_ip(remote_addr=client[0] or "", forwarded_for=forwarded)


async def _refuse(receive, send) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    # Accepted, then closed: the client sees why (4429) rather than a failed handshake.
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": CLOSE_TOO_MANY})
