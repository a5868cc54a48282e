"""What the engine allows: the transition tables of chats and calls, the refusals and their texts, and what
text may be stored. A transition looks its move up here (`target_state`, `call_target`) after locking and
refuses with TransitionError what the table does not hold."""

import logging
from collections.abc import Callable, Iterable
from typing import Any

from contactcentre.models import Membership, Presence
from routing.models import CallState
from runtime import periodic
from runtime.refusals import Refused
from webchat.models import HELD_STATES, Chat, ChatState, Message
from webchat.text import RESERVED_CLIENT_ID_MESSAGE, client_id_reserved, storable

logger = logging.getLogger(__package__)

S = ChatState
C = CallState


class TransitionError(Refused):
    """A refused transition: `code` for programs, `message` for people (409 unless said otherwise)."""


# Every allowed transition of a chat, as data: action -> {from state: to state}. Two rules refine the
# landing state (see _landing): a chat the customer already ended lands in wrap-up instead of active, and
# wrap-up lands in closed on a queue with wrap-up disabled.
TRANSITIONS: dict[str, dict[str, str]] = {
    "take": {S.QUEUED: S.INBOX},
    "allocate": {S.QUEUED: S.INBOX},
    "activate": {S.INBOX: S.ACTIVE, S.PARKED: S.ACTIVE, S.WRAPUP_PARKED: S.WRAPUP},
    "park": {S.ACTIVE: S.PARKED, S.WRAPUP: S.WRAPUP_PARKED},
    "put_back": {S.INBOX: S.QUEUED, S.ACTIVE: S.QUEUED, S.PARKED: S.QUEUED},
    "transfer": {S.INBOX: S.QUEUED, S.ACTIVE: S.QUEUED, S.PARKED: S.QUEUED},
    "end": {S.ACTIVE: S.WRAPUP},
    "customer_end": {S.QUEUED: S.CLOSED, S.INBOX: S.INBOX, S.ACTIVE: S.WRAPUP, S.PARKED: S.PARKED},
    "extend": {S.WRAPUP: S.WRAPUP},
    "complete_wrapup": {S.WRAPUP: S.CLOSED, S.WRAPUP_PARKED: S.CLOSED},
    "expire_wrapup": {S.WRAPUP: S.CLOSED},
    # A disabled queue hands its waiting chats on: to its fallback queue, or ended (queue_disable).
    "to_fallback": {S.QUEUED: S.QUEUED},
    "queue_closed": {S.QUEUED: S.CLOSED},
    "release": {
        S.INBOX: S.QUEUED,
        S.ACTIVE: S.QUEUED,
        S.PARKED: S.QUEUED,
        S.WRAPUP: S.CLOSED,
        S.WRAPUP_PARKED: S.CLOSED,
    },
}

CLIENT_ID_CHARS = Message._meta.get_field("client_id").max_length
CLASSIFICATION_CHARS = Chat._meta.get_field("classification_text").max_length

# What an agent may do to the chats they hold that does not change the state.
EDITABLE_STATES = frozenset(HELD_STATES)

REFUSALS = {
    "take": ("not_queued", "This chat is no longer waiting in a queue."),
    "allocate": ("not_queued", "This chat is no longer waiting in a queue."),
    "activate": ("cannot_activate", "This chat cannot be made active now."),
    "park": ("not_active", "Only the active chat or an active wrap-up can be parked."),
    "put_back": ("cannot_put_back", "Only chats in the inbox, active or parked can be put back."),
    "transfer": ("cannot_transfer", "Only chats in the inbox, active or parked can be transferred."),
    "end": ("not_active", "Make the chat active before ending it."),
    "customer_end": ("already_ended", "The chat has already ended."),
    "extend": ("not_in_wrapup", "Only an active wrap-up can be extended."),
    "complete_wrapup": ("not_in_wrapup", "This chat is not in wrap-up."),
    "expire_wrapup": ("not_in_wrapup", "This chat is not in wrap-up."),
    "release": ("not_held", "This chat is not held by an agent."),
    "to_fallback": ("not_queued", "This chat is no longer waiting in a queue."),
    "queue_closed": ("not_queued", "This chat is no longer waiting in a queue."),
}

MOVED_TO_FALLBACK = "This queue has closed, so your chat has moved to another queue. Please keep waiting."
QUEUE_CLOSED = "This queue has closed, so this chat has ended. Please contact us again later."
# What the customer reads when an agent passes the chat on; agents read the queue's name instead.
TRANSFERRED = "You're being connected to another agent. Please stay in the chat."
PUT_BACK = "Your chat is waiting for the next available agent."


def _require_storable(value: str | None, *, what: str, limit: int | None = None) -> None:
    if value is None:
        return
    if not storable(value):
        raise TransitionError("invalid", f"The {what} contains characters that cannot be stored.", status=400)
    if limit is not None and len(value) > limit:
        raise TransitionError("invalid", f"The {what} is limited to {limit} characters.", status=400)


def _require_client_id(client_id: str) -> None:
    """A client's id for a message: storable, within the column, and not one of the product's own."""
    _require_storable(client_id, what="message id", limit=CLIENT_ID_CHARS)
    if client_id_reserved(client_id):
        raise TransitionError("invalid", RESERVED_CLIENT_ID_MESSAGE, status=400)


def target_state(action: str, state: str) -> str:
    """The state `action` moves a chat in `state` to, or TransitionError if it may not."""
    try:
        return TRANSITIONS[action][state]
    except KeyError:
        code, message = REFUSALS[action]
        raise TransitionError(code, message) from None


def _landing(chat: Chat, state: str) -> str:
    if state == S.ACTIVE and chat.ended_at is not None:
        state = S.WRAPUP
    if state == S.WRAPUP and not chat.queue.wrapup_enabled:
        state = S.CLOSED
    return state


def _require_logged_in(agent: Membership) -> None:
    """The agent (locked, with their user) is signed in and their login is active."""
    if not agent.user.is_active:
        raise TransitionError("inactive", "Your login has been deactivated.", status=403)
    if agent.presence == Presence.UNAVAILABLE:
        raise TransitionError(
            "unavailable", "You are Unavailable: set yourself Available or on a break first."
        )


# Every allowed transition of a call, as data: action -> {from state: to state}.
CALL_TRANSITIONS: dict[str, dict[str, str]] = {
    "offer": {C.WAITING: C.OFFERED},
    "ring_out": {C.OFFERED: C.WAITING},
    "decline": {C.OFFERED: C.WAITING},
    "answer": {C.WAITING: C.CONNECTED, C.OFFERED: C.CONNECTED},
    "end": {C.WAITING: C.CLOSED, C.OFFERED: C.CLOSED, C.CONNECTED: C.WRAPUP},
    "complete_wrapup": {C.WRAPUP: C.CLOSED},
}


def call_target(action: str, state: str) -> str:
    """The state `action` moves a call in `state` to, or TransitionError (409 call_<action>) if it may not."""
    try:
        return CALL_TRANSITIONS[action][state]
    except KeyError:
        raise TransitionError(
            "call_" + action, f"The call cannot be handled that way now ({state})."
        ) from None


def _each(job: str, items: Iterable, handle: Callable[[Any], object]) -> int:
    """Run a periodic job's (or a sweep's) `handle` on each item in its own transaction
    (runtime.periodic); a race lost to another transition is no failure."""
    return periodic.each(job, items, handle, log=logger, expected=(TransitionError,))
