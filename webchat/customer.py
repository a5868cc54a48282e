"""What the customer's API and WebSocket share: finding the chat, checking who may use it, checking what
they send, and reading what they missed."""

import logging
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, DataError, IntegrityError
from django.utils import timezone

from routing.models import WebchatQueue
from runtime.refusals import Refused
from webchat.models import Chat, Message
from webchat.tokens import customer_token_valid

logger = logging.getLogger(__name__)


class Refusal(Refused):
    """A customer's request refused before the engine is asked, with the HTTP status that says why."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(code, message, status)


def find_chat(chat_id) -> Chat:
    try:
        return Chat.objects.select_related("queue").get(pk=chat_id)
    except (Chat.DoesNotExist, ValueError, ValidationError):
        raise Refusal("not_found", "No such chat.", 404) from None


def require_token(chat: Chat, token: object) -> None:
    """The token must be this chat's, and the chat may not have ended more than
    WEBCHAT_TRANSCRIPT_READ_SECONDS ago: a token found later (a shared device, an old backup of an app's
    storage) no longer reads the conversation."""
    if not customer_token_valid(token=token, chat_id=chat.pk):
        raise Refusal("unauthorized", "A valid customer token for this chat is needed.", 401)
    if transcript_window_passed(chat):
        raise Refusal(
            "token_expired",
            "This chat ended too long ago to be read with its customer token. Please start a new chat.",
            401,
        )


def transcript_window_passed(chat: Chat) -> bool:
    """Whether the chat ended more than WEBCHAT_TRANSCRIPT_READ_SECONDS ago."""
    ended = chat.ended_at or chat.closed_at
    window = timedelta(seconds=settings.WEBCHAT_TRANSCRIPT_READ_SECONDS)
    return ended is not None and timezone.now() - ended > window


def require_allowed_origin(queue: WebchatQueue, *, origin: str | None, host: str) -> None:
    """Refuse an Origin outside the queue's web sites.

    The widget's own iframe is served by the product, so its requests carry the product's origin: that is
    always allowed (which sites may embed the iframe is the iframe page's CSP frame-ancestors). A request
    without an Origin (a handset app, a server) is never refused for that reason.
    """
    if not origin or _same_host(origin, host):
        return
    if not queue.allows_origin(origin):
        raise Refusal("origin_not_allowed", "This web site may not use this chat.", 403)


def _same_host(origin: str, host: str) -> bool:
    try:
        origin_host = urlsplit(origin).netloc.lower()
    except ValueError:
        return False
    return bool(origin_host) and origin_host == host.lower()


def database_refusal(error: DatabaseError) -> Refusal:
    """A database error met while serving a customer, as the refusal the client is told of (logged here).

    The checks before the engine should leave nothing the database refuses; if one is missed, the client
    still gets a documented answer and nothing was stored (the transaction was rolled back).
    """
    logger.exception("the database refused a customer's request")
    if isinstance(error, (IntegrityError, DataError)):
        return Refusal("invalid", "This could not be stored. Please check what was sent.", 400)
    return Refusal("unavailable", "The service is briefly unavailable. Please try again shortly.", 503)


def messages_after(chat: Chat, after_seq: int) -> list[Message]:
    """The chat's messages after `after_seq`, oldest first."""
    return list(chat.messages.filter(seq__gt=after_seq).order_by("seq"))
