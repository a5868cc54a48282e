"""Who a request or a socket came from: the address that rate limits, sign-in limits and the audit log
count."""

import ipaddress

from django.conf import settings


def client_ip(*, remote_addr: str, forwarded_for: str = "") -> str:
    """The client's address. X-Forwarded-For is believed only as far as the trusted proxies wrote it.

    Each of the TRUSTED_PROXY_COUNT proxies in front of the server appends the address it was reached
    from, so the client is that many entries from the right; anything further left is the client's to
    forge.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    if proxies > 0 and len(hops) >= proxies:
        return hops[-proxies]
    return remote_addr or "unknown"


def request_client_address(request) -> str | None:
    """A request's client address by client_ip's proxy rule, as a valid IP address; None when there is no
    address to believe (no socket address, a proxy that wrote something else)."""
    address = client_ip(
        remote_addr=request.META.get("REMOTE_ADDR", ""),
        forwarded_for=request.headers.get("X-Forwarded-For", ""),
    )
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
