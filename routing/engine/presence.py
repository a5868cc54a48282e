"""Agent presence: logging in, Available and Break, logging out (chats held returned to their queues),
signs of life from the agent's connections, and the logout of agents whose connections were all lost."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from contactcentre.models import Membership, Presence
from routing.engine.allocation import allocate_queues
from routing.engine.call_routing import offer_work, route_calls
from routing.engine.clocks import _close, _now, _stop_handle_clock
from routing.engine.frames import _tell_agent, _tell_call, _tell_customer, _tell_presence, _tell_queue
from routing.engine.locks import _chats_to_lock, _lock_agent, _lock_queues
from routing.engine.messages import _system_message
from routing.engine.rules import QUEUE_CLOSED, TRANSITIONS, TransitionError, _each, call_target, target_state
from routing.engine.sql import _update
from routing.engine.status_history import _record_status
from routing.events import Outbox
from routing.models import BreakReason, Call, CallState, WebchatQueue
from webchat import protocol
from webchat.models import HELD_STATES, ChatState, Outcome

logger = logging.getLogger(__package__)

S = ChatState
C = CallState


def _enter_presence(agent: Membership, presence: str, reason: BreakReason | None, now: datetime) -> None:
    agent.presence = presence
    agent.break_reason = reason
    agent.presence_since = now


def _save_seen(out: Outbox, agent: Membership, now: datetime) -> None:
    """Save the agent's presence, seen now, record their status if it changed, and tell their tabs and the
    wallboard."""
    agent.last_seen_at = now
    agent.save(update_fields=["presence", "break_reason", "presence_since", "last_seen_at"])
    _record_status(agent, now)
    _tell_presence(out, agent)


def agent_login(*, agent: Membership) -> Membership:
    """The agent logged in: Available, and waiting chats of their queues are offered.

    Locks the agent. An agent on a break stays on it; an Unavailable one becomes Available. The agent is
    offered work after commit.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent = _lock_agent(agent)
        if agent.presence == Presence.UNAVAILABLE:
            _enter_presence(agent, Presence.AVAILABLE, None, now)
        _save_seen(out, agent, now)
        out.send_on_commit()
    offer_work(agent=agent)
    return agent


def agent_set_presence(*, agent: Membership, presence: str, break_reason_id: int | None = None) -> Membership:
    """The agent sets Available or Break (with one of the company's break reasons).

    Locks the agent. Refuses any other presence (400 invalid_presence) and another company's break reason
    (400 unknown_break_reason). Becoming Available offers the agent work after commit.
    """
    now = _now()
    out = Outbox()
    if presence not in (Presence.AVAILABLE, Presence.BREAK):
        raise TransitionError("invalid_presence", "Choose Available or Break.", status=400)
    with transaction.atomic():
        agent = _lock_agent(agent)
        reason = None
        if presence == Presence.BREAK and break_reason_id is not None:
            reason = BreakReason.objects.filter(pk=break_reason_id, company_id=agent.company_id).first()
            if reason is None:
                raise TransitionError("unknown_break_reason", "No such break reason.", status=400)
        if agent.presence != presence or agent.break_reason_id != (reason.pk if reason else None):
            _enter_presence(agent, presence, reason, now)
        _save_seen(out, agent, now)
        out.send_on_commit()
    if presence == Presence.AVAILABLE:
        offer_work(agent=agent)
    return agent


def agent_logout(
    *, agent: Membership | int, reason: str = "logged out", unseen_since: datetime | None = None
) -> Membership | None:
    """The agent logs out (or is treated so after losing every connection).

    Locks the agent, then every chat they hold (by primary key), then the queues those chats return to and
    their fallback queues (by primary key). Inbox, active and parked chats return to their current queue at
    the front with their original queued time; one whose queue has been disabled goes to that queue's
    fallback queue, or is closed (queue_closed) with a message to the customer, as its waiting chats were; a
    chat the customer already left is closed; chats in wrap-up are completed. The agent becomes Unavailable.
    With `unseen_since`, nothing happens (None is returned) unless, under the lock, the agent is still
    logged in and unseen since then.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent = _lock_agent(agent)
        if unseen_since is not None and (
            agent.presence == Presence.UNAVAILABLE
            or (agent.last_seen_at and agent.last_seen_at >= unseen_since)
        ):
            return None
        held = list(_chats_to_lock().filter(agent=agent, state__in=HELD_STATES))
        returning_to = {
            chat.queue_id
            for chat in held
            if TRANSITIONS["release"][chat.state] == S.QUEUED and chat.ended_at is None
        }
        # Their fallback queues too, in the same statement: every lock of queues is taken in one order.
        fallback_ids = WebchatQueue.objects.filter(pk__in=returning_to, fallback_queue__isnull=False)
        queues = _lock_queues(returning_to | set(fallback_ids.values_list("fallback_queue_id", flat=True)))
        requeued_queues: dict[int, WebchatQueue] = {}
        for chat in held:
            target = target_state("release", chat.state)
            if target == S.QUEUED and chat.ended_at is not None:
                target = S.CLOSED
            if target == S.QUEUED and not queues[chat.queue_id].enabled:
                # Its queue was disabled while the agent held it: it waits where that queue's waiting chats
                # went, or ends as they did.
                fallback = queues.get(queues[chat.queue_id].fallback_queue_id)
                if fallback is not None and fallback.enabled and fallback.company_id == chat.company_id:
                    chat.queue = fallback
                else:
                    _stop_handle_clock(chat, now)
                    chat.agent = agent
                    _system_message(out, chat, QUEUE_CLOSED, now)
                    _close(chat, now, Outcome.QUEUE_CLOSED)
                    chat.save()
                    _tell_customer(out, chat)
                    continue
            if target == S.QUEUED:
                _stop_handle_clock(chat, now)
                chat.state = S.QUEUED
                chat.agent = None
                chat.queue_priority = 1
                chat.park_reason = ""
                chat.unseen = False
                chat.save()
                requeued_queues[chat.queue_id] = chat.queue
                _system_message(out, chat, "Your chat is waiting for the next available agent.", now)
                _tell_customer(out, chat)
            else:
                _stop_handle_clock(chat, now)
                _close(chat, now, Outcome.COMPLETED)
                chat.save()
        _enter_presence(agent, Presence.UNAVAILABLE, None, now)
        agent.save(update_fields=["presence", "break_reason", "presence_since"])
        ringing = list(
            Call.objects.select_for_update(no_key=True, of=("self",)).filter(agent=agent, state=C.OFFERED)
        )
        for call in ringing:
            call.state = call_target("ring_out", call.state)
            call.agent = None
            call.offer_deadline = None
            call.save()
            _tell_call(out, call, agent.pk)
        _record_status(agent, now)
        for queue in requeued_queues.values():
            _tell_queue(out, queue)
            out.add_positions(queue.pk)
        _tell_agent(out, agent.pk, protocol.inbox())
        _tell_presence(out, agent)
        out.send_on_commit()
    logger.info(
        "agent %s %s; %d chat(s) released",
        agent.pk,
        reason,
        len(held),
        extra={
            "agent_id": agent.pk,
            "company_id": agent.company_id,
            "chat_ids": [str(chat.pk) for chat in held],
        },
    )
    allocate_queues(queue_ids=requeued_queues)
    if ringing:
        route_calls(company_id=agent.company_id)
    return agent


def agent_seen(*, agent_id: int, now: datetime | None = None) -> None:
    """A sign of life from one of the agent's connections (connect, heartbeat, disconnect).

    A plain column update without a lock: it changes no state, and the lost-connection job re-reads it
    under the agent's lock before acting.
    """
    # Written out rather than built by the ORM: every agent socket sends one every few seconds.
    _update(Membership, agent_id, {"last_seen_at": now or _now()})


def expire_lost_connections(*, now: datetime | None = None) -> int:
    """Treat as logged out every agent not seen for the grace period, each in its own transaction. Returns
    how many were logged out.

    Locks as agent_logout does, and re-checks under the agent's lock that they are still logged in and
    unseen since the cutoff (a heartbeat meanwhile wins).
    """
    now = now or _now()
    cutoff = now - timedelta(seconds=settings.AGENT_CONNECTION_GRACE_SECONDS)
    stale = list(
        Membership.objects.exclude(presence=Presence.UNAVAILABLE)
        .filter(last_seen_at__lt=cutoff)
        .order_by("last_seen_at", "pk")
        .values_list("pk", flat=True)
    )
    return _each(
        "expire_lost_connections",
        stale,
        lambda agent_id: agent_logout(agent=agent_id, reason="lost every connection", unseen_since=cutoff),
    )
