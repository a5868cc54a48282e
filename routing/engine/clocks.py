"""A chat's clocks (handle time, the wrap-up countdown) and what entering wrap-up or closing does to them.
Closing logs the chat in the CRM (crm.services), in the transaction that closes it."""

from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from crm import services as crm_services
from webchat.models import Chat, ChatState, EndedBy, Outcome

S = ChatState


def _now() -> datetime:
    return timezone.now()


def _due(items: QuerySet, deadline: str, now: datetime) -> list[tuple]:
    """The (pk, agent_id) of the first 500 of `items` whose `deadline` has passed, the longest overdue
    first: a periodic job's batch."""
    return list(
        items.filter(**{f"{deadline}__lte": now}).order_by(deadline, "pk").values_list("pk", "agent_id")[:500]
    )


def _stop_handle_clock(chat: Chat, now: datetime) -> None:
    if chat.activated_at is not None:
        chat.handle_seconds += max(0.0, (now - chat.activated_at).total_seconds())
        chat.activated_at = None


def _start_wrapup(chat: Chat, now: datetime) -> None:
    chat.wrapup_started_at = now
    chat.wrapup_deadline = now + timedelta(seconds=chat.queue.wrapup_seconds)
    chat.wrapup_remaining_seconds = None


def _pause_wrapup(chat: Chat, now: datetime) -> None:
    chat.wrapup_remaining_seconds = max(0.0, (chat.wrapup_deadline - now).total_seconds())
    chat.wrapup_deadline = None
    chat.wrapup_parked_at = now


def _end_wrapup_parking(chat: Chat, now: datetime) -> None:
    """Add the time the wrap-up has been parked to its parked total: wrap-up time excludes it, as handle
    time excludes a parked chat's."""
    if chat.wrapup_parked_at is not None:
        chat.wrapup_parked_seconds += max(0.0, (now - chat.wrapup_parked_at).total_seconds())
        chat.wrapup_parked_at = None


def _resume_wrapup(chat: Chat, now: datetime) -> None:
    chat.wrapup_deadline = now + timedelta(seconds=chat.wrapup_remaining_seconds or 0)
    chat.wrapup_remaining_seconds = None
    _end_wrapup_parking(chat, now)


def _mark_ended(chat: Chat, now: datetime, by: str) -> None:
    if chat.ended_at is None:
        chat.ended_at = now
        chat.ended_by = by


def _close(chat: Chat, now: datetime, outcome: str) -> None:
    """Close the chat and log it in the CRM."""
    _mark_ended(chat, now, EndedBy.SYSTEM)
    chat.state = S.CLOSED
    chat.outcome = outcome
    chat.closed_at = now
    _end_wrapup_parking(chat, now)
    chat.activated_at = None
    chat.wrapup_deadline = None
    chat.wrapup_remaining_seconds = None
    chat.unseen = False
    chat.customer_waiting_since = None
    chat.reply_overdue = False
    crm_services.interaction_record_chat(chat=chat)


def _activate(chat: Chat, target: str, now: datetime) -> None:
    """Land the chat where activating it leads (`target`): active, its handle clock running; or wrap-up or
    closed, for a chat the customer ended meanwhile. (It was answered when it was first given to an agent,
    allocation._give_to_agent.)"""
    chat.park_reason = ""
    if target == S.ACTIVE:
        chat.state = S.ACTIVE
        chat.activated_at = now
    else:
        _enter_landing(chat, target, now)


def _enter_landing(chat: Chat, state: str, now: datetime) -> None:
    """Put the chat in `state`, running what entering wrap-up or closed means."""
    if state == S.WRAPUP:
        _stop_handle_clock(chat, now)
        chat.state = S.WRAPUP
        if chat.wrapup_started_at is None:
            _start_wrapup(chat, now)
        elif chat.wrapup_remaining_seconds is not None:
            _resume_wrapup(chat, now)
    elif state == S.CLOSED:
        _stop_handle_clock(chat, now)
        _close(chat, now, Outcome.COMPLETED)
    else:
        chat.state = state
