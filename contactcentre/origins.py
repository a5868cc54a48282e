"""The agent socket opens only from the product's own pages.

A browser sends the agent's session cookie with a WebSocket handshake whatever page opened it, so without
this check a page on another origin (another port of the same host, a subdomain, another site) could read
and send an agent's messages. The rule is Django's own for an unsafe request's Origin (CSRF): the origin
must be the product's own, `<scheme>://<Host>` for a Host that ALLOWED_HOSTS accepts and the scheme the
connection arrived with (wss, or https behind a proxy named by SECURE_PROXY_SSL_HEADER), or one listed in
CSRF_TRUSTED_ORIGINS (with the same `https://*.example.com` wildcards). So whatever configuration lets an
agent sign in lets their socket open, and nothing else does.

A handshake without an Origin header is let through: every browser sends one on a WebSocket, so a page
cannot make the agent's browser leave it out, and a client that sends none (a script) holds the session
cookie itself, which the check could not protect anyway.
"""

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

logger = logging.getLogger(__name__)

CLOSE_ORIGIN_NOT_ALLOWED = 4403


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return value.decode("latin-1")
    return None


def _secure(scope) -> bool:
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        name, expected = proxy_header
        # Django names it as in request.META (HTTP_X_FORWARDED_PROTO); the scope has the raw header.
        raw = name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1")
        value = _header(scope, raw)
        return value is not None and value.split(",", 1)[0].strip() == expected
    return False


def own_origin(scope) -> bool:
    """Whether the handshake's Origin is one of the product's own (see the module's docstring)."""
    origin = _header(scope, b"origin")
    if origin is None:
        return True
    origin = origin.strip().lower()
    host = (_header(scope, b"host") or "").strip().lower()
    domain, _ = split_domain_port(host)
    if domain and validate_host(domain, settings.ALLOWED_HOSTS):
        scheme = "https" if _secure(scope) else "http"
        if origin == f"{scheme}://{host}":
            return True
    trusted = [item.lower().rstrip("/") for item in settings.CSRF_TRUSTED_ORIGINS]
    if origin in trusted:
        return True
    parts = urlsplit(origin)
    if not parts.scheme or not parts.netloc:
        return False
    # As Django's CSRF check reads them: "https://*.example.com" is any subdomain of example.com.
    wildcards = [urlsplit(item) for item in trusted if "*" in item]
    return any(
        item.scheme == parts.scheme and is_same_domain(parts.netloc, item.netloc.partition("*")[2])
        for item in wildcards
    )


class OwnOriginOnly:
    """ASGI middleware for a WebSocket route that only the product's own pages may open.

    A handshake from another origin is accepted and closed at once with 4403, before the consumer, the
    session or the database are touched: the client sees why rather than a failed handshake.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "websocket" or own_origin(scope):
            return await self.app(scope, receive, send)
        logger.warning(
            "agent socket refused: origin %s is not the product's own",
            _header(scope, b"origin"),
            extra={"path": scope.get("path"), "close_code": CLOSE_ORIGIN_NOT_ALLOWED},
        )
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": CLOSE_ORIGIN_NOT_ALLOWED})
