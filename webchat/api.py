"""The public chat API (PROTOCOL.md section 1): the widget's and handset apps' way in.

Each view parses and checks the request, calls one engine function and answers JSON. Errors are
`{"error": {"code", "message"}}` with a fitting status, never a stack trace. The API is called across
origins with a bearer token and never with cookies, so it is exempt from CSRF, and answers CORS so that
browsers and webviews on the queue's web sites may read it.
"""

import json
from collections.abc import Callable
from functools import wraps

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.csrf import csrf_exempt

from routing import engine, selectors
from routing.models import WebchatQueue
from runtime import client_address, error_reporting
from runtime.refusals import Refused
from webchat import customer, openapi, protocol, ratelimit, text
from webchat.customer import Refusal
from webchat.models import Chat
from webchat.tokens import customer_token_for

MAX_VISITOR_ID_CHARS = 100
MAX_QUEUE_TOKEN_CHARS = 64


def error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def api_endpoint(*methods: str, cache_seconds: int | None = None) -> Callable:
    """CSRF exemption, CORS, method checks and refusals turned into JSON errors, for one API view. Its
    answers are never stored by caches, except a public document's (`cache_seconds`)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def endpoint(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method == "OPTIONS":
                response = _preflight(methods)
            elif request.method not in methods:
                response = error("method_not_allowed", f"Use {' or '.join(methods)}.", 405)
                response["Allow"] = ", ".join((*methods, "OPTIONS"))
            else:
                try:
                    response = view(request, *args, **kwargs)
                except Refused as refusal:
                    response = error(refusal.code, refusal.message, refusal.status)
                except DatabaseError as database_error:
                    refusal = customer.database_refusal(database_error)
                    response = error(refusal.code, refusal.message, refusal.status)
                    if refusal.status == 503:
                        response["Retry-After"] = "5"
            # The limit this request was counted against, on its answer whatever it is (429 included).
            limit = getattr(request, "rate_limit", None)
            if limit is not None:
                for header, value in limit.headers().items():
                    response[header] = value
            origin = request.headers.get("Origin")
            # A refused origin (403) gets no CORS header: the browser then hides the answer from that page.
            if origin and response.status_code != 403:
                response["Access-Control-Allow-Origin"] = origin
            patch_vary_headers(response, ["Origin"])
            if cache_seconds is not None and response.status_code == 200:
                patch_cache_control(response, public=True, max_age=cache_seconds)
            else:
                patch_cache_control(response, no_store=True)
            if response.status_code == 401:
                response["WWW-Authenticate"] = 'Bearer realm="webchat"'
            return response

        return endpoint

    return decorate


def _preflight(methods: tuple[str, ...]) -> HttpResponse:
    # The queue is only known from the body or the chat, so the real request checks the origin, not this.
    response = HttpResponse(status=204)
    response["Access-Control-Allow-Methods"] = ", ".join((*methods, "OPTIONS"))
    response["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
    response["Access-Control-Max-Age"] = "86400"
    return response


@api_endpoint("GET", cache_seconds=3600)
def openapi_document(request: HttpRequest) -> HttpResponse:
    """This API as an OpenAPI 3.1 document (the same text as docs/openapi.json)."""
    return HttpResponse(openapi.document_text(), content_type="application/json")


@api_endpoint("POST")
def chats(request: HttpRequest) -> JsonResponse:
    body = _json_body(request)
    queue_token = text.optional_text(body, "queue_token", limit=MAX_QUEUE_TOKEN_CHARS)
    if not queue_token:
        raise Refusal("invalid", "queue_token is required.", 400)
    name = text.customer_name(body)
    first_message = text.message_text(body, "message", required=False)
    visitor_id = text.optional_text(body, "visitor_id", limit=MAX_VISITOR_ID_CHARS)
    client_id = text.client_id(body, required=False)
    limit = _within_limit(
        request,
        ratelimit.allow_chat_open(client_ip=_client_ip(request)),
        "Too many chats opened from here. Please try again after Retry-After seconds.",
    )
    try:
        # An unknown or disabled queue is the engine's to refuse; a known one first checks the origin.
        queue = WebchatQueue.objects.filter(token=queue_token).first()
        if queue is not None:
            _require_allowed_origin(request, queue)
        opened = engine.chat_open(
            queue_token=queue_token,
            customer_name=name,
            first_message=first_message,
            visitor_id=visitor_id,
            client_id=client_id,
        )
    except Refused:
        # Only the chats opened count: a client retrying after queue_full or closed keeps its budget.
        request.rate_limit = ratelimit.give_back(limit)
        raise
    chat = opened.chat
    return JsonResponse(
        {
            "chat_id": str(chat.pk),
            "customer_token": customer_token_for(chat_id=chat.pk),
            "state": selectors.customer_state(chat).state,
            "websocket": f"/ws/webchat/{chat.pk}/",
        },
        status=201,
    )


@api_endpoint("GET", "POST")
def messages(request: HttpRequest, chat_id: str) -> JsonResponse:
    chat = _customer_chat(request, chat_id)
    if request.method == "POST":
        return _post_message(request, chat)
    backlog = customer.messages_after(chat, _after_seq(request))
    return JsonResponse(
        {**_state(chat), "messages": [protocol.message_fields(message) for message in backlog]}
    )


def _post_message(request: HttpRequest, chat: Chat) -> JsonResponse:
    body = _json_body(request)
    client_id = text.client_id(body, required=True)
    message_text = text.message_text(body, "text", required=True)
    _within_limit(
        request,
        ratelimit.allow_message(chat_id=chat.pk),
        "Too many messages at once. Please try again after Retry-After seconds.",
    )
    message, created = engine.message_post_customer(chat_id=chat.pk, client_id=client_id, text=message_text)
    return JsonResponse(protocol.message_fields(message), status=201 if created else 200)


@api_endpoint("POST")
def end(request: HttpRequest, chat_id: str) -> JsonResponse:
    chat = _customer_chat(request, chat_id)
    return JsonResponse(_state(engine.chat_end_by_customer(chat_id=chat.pk)))


def _within_limit(request: HttpRequest, limit: ratelimit.Verdict, message: str) -> ratelimit.Verdict:
    """Refuse a request past its rate limit (429); either way its answer carries the limit's headers."""
    request.rate_limit = limit
    if not limit.allowed:
        raise Refusal("rate_limited", message, 429)
    return limit


def _customer_chat(request: HttpRequest, chat_id: str) -> Chat:
    chat = customer.find_chat(chat_id)
    error_reporting.tag(chat_id=chat.pk)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    customer.require_token(chat, token.strip() if scheme.lower() == "bearer" else "")
    _require_allowed_origin(request, chat.queue)
    return chat


def _require_allowed_origin(request: HttpRequest, queue: WebchatQueue) -> None:
    customer.require_allowed_origin(queue, origin=request.headers.get("Origin"), host=request.get_host())


def _client_ip(request: HttpRequest) -> str:
    return client_address.client_ip(
        remote_addr=request.META.get("REMOTE_ADDR", ""),
        forwarded_for=request.headers.get("X-Forwarded-For", ""),
    )


def _json_body(request: HttpRequest) -> dict:
    try:
        body = json.loads(request.body)
    except RequestDataTooBig:
        raise Refusal("too_long", "The request is too large.", 413) from None
    except (ValueError, RecursionError):
        raise Refusal("invalid", "The body must be a JSON object.", 400) from None
    if not isinstance(body, dict):
        raise Refusal("invalid", "The body must be a JSON object.", 400)
    return body


def _after_seq(request: HttpRequest) -> int:
    value = request.GET.get("after_seq", "0")
    if not (value.isascii() and value.isdigit() and len(value) <= 10):
        raise Refusal("invalid", "after_seq must be a whole number, 0 or more.", 400)
    return text.seq_number(int(value))


def _state(chat: Chat) -> dict:
    """The customer's view of the chat: `state`, and `position` or `agent_name` where they apply."""
    return protocol.state_fields(selectors.customer_state(chat))
