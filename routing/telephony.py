"""Commands to the company's telephony system: signed JSON POSTs, sent after commit off the request path.

Each company's commands go through its own lane (runtime/outbound.py): a few threads of its own, a
bounded queue, retries with back-off that wait without holding a thread. A company whose telephony system
is slow or absent delays only its own offers, never a transaction, a request or another company's calls.
The URL is checked before every attempt: https, a public host, no redirects. With no telephony URL
configured, offers are shown in the agent UI only.
"""

import hashlib
import hmac
import json
import logging

from django.db import connections

from runtime import outbound

logger = logging.getLogger(__name__)

# An offer is worth sending only while the call rings (a queue's ring time is typically 15-30 s): three
# attempts, 1 s and 2 s apart, each a few seconds at most.
lanes = outbound.Lanes("telephony", concurrency=2, queue_limit=50, attempts=3, backoff_seconds=1.0)


def signature(secret: str, body: bytes) -> str:
    """The X-Contact-Signature header value for a body: sha256=<hex HMAC-SHA256>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, header: str) -> bool:
    # Compared as bytes: compare_digest refuses str with non-ASCII characters, which a header may carry.
    given = (header or "").encode("utf-8", "surrogateescape")
    return hmac.compare_digest(signature(secret, body).encode(), given)


def signed_json(secret: str, payload: dict) -> tuple[bytes, dict[str, str]]:
    """A JSON body and the headers that carry its signature, as both sides of the telephony API send them."""
    body = json.dumps(payload).encode()
    return body, {"Content-Type": "application/json", "X-Contact-Signature": signature(secret, body)}


def send_offer(*, company_id: int, call_id: int, agent_id: int) -> None:
    """Tell the telephony system whom to ring, in the background, in the company's own lane."""
    lanes.submit(
        company_id,
        lambda: _send_offer(call_id=call_id, agent_id=agent_id),
        what=f"telephony offer of call {call_id}",
    )


def _send_offer(*, call_id: int, agent_id: int) -> None:
    from routing.models import Call, CallState

    try:
        call = Call.objects.select_related("company", "agent__user").filter(pk=call_id).first()
        # Read again on each attempt: an offer is pointless once the call has moved on from this agent.
        if (
            call is None
            or call.agent_id != agent_id
            or call.state not in (CallState.OFFERED, CallState.CONNECTED)
            or not call.company.telephony_url
        ):
            return
        command = {
            "command": "offer",
            "call_id": call.pbx_call_id,
            "agent": call.agent.user.username,
            "extension": call.agent.extension,
        }
        url, secret = call.company.telephony_url, call.company.telephony_secret
    finally:
        # A lane thread's connection is its own: close it rather than keep it open while it sends.
        connections.close_all()
    post_command(url, secret, command)


def post_command(url: str, secret: str, command: dict) -> None:
    """POST one signed command, once. Raises outbound.TryLater when another attempt may succeed."""
    body, headers = signed_json(secret, command)
    try:
        response = outbound.post(url, body=body, headers=headers)
    except outbound.Refused as refusal:
        logger.error("telephony command %s not sent to %s: %s", command["command"], url, refusal)
        return
    except outbound.Failed as failure:
        raise outbound.TryLater(str(failure)) from None
    if 200 <= response.status < 300:
        return
    if response.status in (408, 429) or response.status >= 500:
        raise outbound.TryLater(f"answered {response.status}")
    why = "redirects are not followed" if 300 <= response.status < 400 else "the telephony system refused it"
    logger.error("telephony command %s answered %d: %s", command["command"], response.status, why)
