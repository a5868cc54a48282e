"""Commands to the company's telephony system: signed JSON POSTs, sent after commit off the request path.

Each is sent from a small pool of background threads with a timeout and a few retries, so a slow or
absent telephony system never holds a transaction or a request. With no telephony URL configured, offers
are shown in the agent UI only.
"""

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from django.db import connections

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 3
ATTEMPTS = 3
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="telephony")


def signature(secret: str, body: bytes) -> str:
    """The X-Contact-Signature header value for a body: sha256=<hex HMAC-SHA256>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, header: str) -> bool:
    # Compared as bytes: compare_digest refuses str with non-ASCII characters, which a header may carry.
    given = (header or "").encode("utf-8", "surrogateescape")
    return hmac.compare_digest(signature(secret, body).encode(), given)


def send_offer(*, call_id: int) -> None:
    """Tell the telephony system whom to ring, in the background."""
    _pool.submit(_send_offer, call_id)


def _send_offer(call_id: int) -> None:
    from routing.models import Call

    try:
        call = Call.objects.select_related("company", "agent__user").filter(pk=call_id).first()
        if call is None or call.agent is None or not call.company.telephony_url:
            return
        command = {
            "command": "offer",
            "call_id": call.pbx_call_id,
            "agent": call.agent.user.username,
            "extension": call.agent.extension,
        }
        post_command(call.company.telephony_url, call.company.telephony_secret, command)
    finally:
        # A pool thread's connection is its own: close it rather than keep it open between offers.
        connections.close_all()


def post_command(url: str, secret: str, command: dict) -> bool:
    """POST one signed command; retries with back-off. Returns whether the telephony system took it."""
    body = json.dumps(command).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "X-Contact-Signature": signature(secret, body)},
    )
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                if 200 <= response.status < 300:
                    return True
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            logger.warning("telephony command %s attempt %d failed: %s", command["command"], attempt, error)
        if attempt < ATTEMPTS:
            time.sleep(0.5 * 2**attempt)
    logger.error("telephony command %s for call %s not delivered", command["command"], command.get("call_id"))
    return False
