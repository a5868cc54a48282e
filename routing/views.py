"""The telephony API (PROTOCOL.md section 4): signed events from the company's telephony system."""

import json

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from contactcentre.models import Company
from routing import engine
from routing.models import Call
from routing.telephony import signature_matches
from webchat.text import storable

MAX_BODY_BYTES = 16 * 1024


def error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _text(event: dict, field: str, *, required: bool = True, limit: int = 100) -> str:
    value = event.get(field, "")
    if (
        not isinstance(value, str)
        or (required and not value.strip())
        or len(value) > limit
        or not storable(value)
    ):
        raise ValueError(
            f"'{field}' must be a string of at most {limit} characters" + (", not empty" if required else "")
        )
    return value.strip()


@csrf_exempt
@require_POST
def telephony_event(request: HttpRequest) -> JsonResponse:
    try:
        body = request.body
    except RequestDataTooBig:
        body = None
    if body is None or len(body) > MAX_BODY_BYTES:
        return error("too_long", "The event is too large.", 413)
    try:
        try:
            event = json.loads(body)
        except RecursionError:
            event = None
        if not isinstance(event, dict):
            raise ValueError("the body must be a JSON object")
        kind = _text(event, "event", limit=40)
        slug = _text(event, "company", limit=60)
        call_id = _text(event, "call_id")
    except ValueError as problem:
        return error("invalid", f"Malformed event: {problem}.", 400)
    company = Company.objects.filter(slug=slug).first()
    # Unknown company and wrong signature look the same: nobody learns which companies exist.
    if company is None or not signature_matches(
        company.telephony_secret, body, request.headers.get("X-Contact-Signature", "")
    ):
        return error("bad_signature", "The signature does not match.", 401)
    try:
        if kind == "call.arrived":
            call = engine.call_arrived(
                company_id=company.pk,
                pbx_call_id=call_id,
                queue_slug=_text(event, "queue", limit=60),
                caller_number=_text(event, "from", required=False, limit=40),
            )
        elif kind == "call.answered":
            call = engine.call_answered_by_pbx(
                company_id=company.pk, pbx_call_id=call_id, username=_text(event, "agent", limit=150)
            )
        elif kind == "call.ended":
            call = engine.call_ended_by_pbx(company_id=company.pk, pbx_call_id=call_id)
        else:
            return error("invalid", "Unknown event: expected call.arrived, call.answered or call.ended.", 400)
    except ValueError as problem:
        return error("invalid", f"Malformed event: {problem}.", 400)
    except engine.TransitionError as refusal:
        return error(refusal.code, refusal.message, refusal.status)
    return JsonResponse({"status": "accepted", "call": call_summary(call)}, status=202)


def call_summary(call: Call) -> dict:
    return {
        "call_id": call.pbx_call_id,
        "state": call.state,
        "agent": call.agent.user.username if call.agent_id else None,
    }
