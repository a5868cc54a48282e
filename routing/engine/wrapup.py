"""A chat's wrap-up: extended, completed by the agent, or expired when its countdown runs out."""

from datetime import datetime, timedelta
from typing import Unpack

from django.db import transaction

from contactcentre.models import Membership
from routing.engine.call_routing import offer_work
from routing.engine.clocks import _close, _due, _now
from routing.engine.details import ChatDetails, _apply_details
from routing.engine.frames import _tell_agent, _tell_inbox, _tell_presence, _tell_wallboard
from routing.engine.locks import _lock_agent, _lock_agents_chat, _lock_chat
from routing.engine.rules import TransitionError, _each, target_state
from routing.engine.status_history import _record_status
from routing.events import Outbox
from webchat import protocol
from webchat.models import Chat, ChatState, Outcome

S = ChatState


def wrapup_extend(*, agent: Membership, chat_id) -> Chat:
    """Add Wrap-up Extension Time to the running countdown, at most Wrap-up Extensions times.

    Locks the agent, then the chat. Refuses a chat that is not the agent's (404), one not in an active
    wrap-up (409 not_in_wrapup) and an extension past the queue's number (409 no_extensions_left).
    """
    out = Outbox()
    with transaction.atomic():
        agent, chat = _lock_agents_chat(agent.pk, chat_id)
        target_state("extend", chat.state)
        if chat.wrapup_extensions_used >= chat.queue.wrapup_extensions:
            raise TransitionError("no_extensions_left", "No wrap-up extensions are left.")
        chat.wrapup_extensions_used += 1
        chat.wrapup_deadline += timedelta(seconds=chat.queue.wrapup_extension_seconds)
        chat.save(update_fields=["wrapup_extensions_used", "wrapup_deadline"])
        _tell_inbox(out, chat, agent.pk)
        _tell_presence(out, agent)
        out.send_on_commit()
    return chat


def wrapup_complete(*, agent: Membership, chat_id, **details: Unpack[ChatDetails]) -> Chat:
    """The agent completes wrap-up (active or parked), optionally with notes and a classification.

    Locks the agent, then the chat. Refuses a chat that is not the agent's (404) or not in wrap-up
    (409 not_in_wrapup), and details as chat_record_details does. The chat closes and is logged in the CRM;
    freed capacity is allocated.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent, chat = _lock_agents_chat(agent.pk, chat_id)
        target_state("complete_wrapup", chat.state)
        _apply_details(chat, **details)
        _close(chat, now, Outcome.COMPLETED)
        chat.save()
        _record_status(agent, now)
        _tell_inbox(out, chat, agent.pk)
        _tell_presence(out, agent)
        out.send_on_commit()
    offer_work(agent=agent)
    return chat


def expire_wrapups(*, now: datetime | None = None) -> int:
    """Complete every active wrap-up whose countdown has run out, each chat in its own transaction. Returns
    how many were completed.

    Locks the agent, then the chat; re-checks under the lock that the chat is still that agent's, in an
    active wrap-up, past its deadline (an extension, park or completion meanwhile wins).
    """
    now = now or _now()
    due = _due(Chat.objects.filter(state=S.WRAPUP), "wrapup_deadline", now)
    return _each("expire_wrapups", due, lambda item: _expire_wrapup(*item, now=now))


def _expire_wrapup(chat_id, agent_id: int, *, now: datetime) -> bool:
    """Locks the agent, then the chat."""
    out = Outbox()
    with transaction.atomic():
        agent = _lock_agent(agent_id)
        chat = _lock_chat(chat_id)
        # Re-check under lock: the agent may have extended, parked or completed it meanwhile.
        if chat.agent_id != agent_id or chat.state != S.WRAPUP or chat.wrapup_deadline > now:
            return False
        target_state("expire_wrapup", chat.state)
        _close(chat, now, Outcome.COMPLETED)
        chat.save()
        _record_status(agent, now)
        _tell_inbox(out, chat, agent_id)
        _tell_agent(out, agent_id, protocol.presence())
        _tell_wallboard(out, chat.company_id)
        out.send_on_commit()
    offer_work(agent_id=agent_id)
    return True
