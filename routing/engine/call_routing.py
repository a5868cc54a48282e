"""Call routing: offering a company's waiting calls to the best eligible agent, and offering an agent
who may have room for more work the waiting calls and chats in the company's channel priority."""

import logging
from datetime import timedelta

from django.db import transaction

from contactcentre.models import ChannelPriority, Membership
from routing import selectors, telephony
from routing.engine.allocation import allocate_for_agent
from routing.engine.clocks import _now
from routing.engine.frames import _tell_call
from routing.engine.locks import _ChangedHands, _lock_agent, _lock_call
from routing.engine.rules import _each, call_target
from routing.engine.status_history import _record_status
from routing.events import Outbox
from routing.models import Call, CallState

logger = logging.getLogger(__package__)

C = CallState


def route_calls(*, company_id: int) -> list[Call]:
    """Offer the company's waiting calls, oldest first (at most 100), each to the best eligible agent.

    Each call in its own transaction: locks the candidate agents one at a time in order of preference,
    re-checking under the lock that the agent is still eligible (selectors.call_candidates: a voice agent
    of the queue, Available or on an interruptible break, with no call and no active chat wrap-up, who has
    not let this call ring out; idle agents before those busy on a chat) and releasing one that is not,
    then locks the call and offers it only if it is still waiting. The offer rings for the queue's ring
    timeout; the telephony system is told after commit. Returns the calls offered.
    """
    offered = []
    waiting = Call.objects.filter(company_id=company_id, state=C.WAITING).order_by("arrived_at", "pk")

    def offer(call_id: int) -> None:
        call = _offer_call(call_id, company_id)
        if call is not None:
            offered.append(call)

    # Each call in its own transaction: one that cannot be offered does not hold up the others.
    _each("route_calls", list(waiting.values_list("pk", flat=True)[:100]), offer)
    return offered


def _offer_call(call_id: int, company_id: int) -> Call | None:
    now = _now()
    out = Outbox()
    with transaction.atomic():
        call = Call.objects.select_related("company").get(pk=call_id)
        ranked = list(selectors.call_candidates(call).values_list("pk", flat=True)[:20])
        agent = None
        for candidate in ranked:
            # Wait for an agent busy in another transition (they are short) rather than pass them over:
            # the best agent for the call may be the one who is taking a chat right now. An agent found
            # no longer eligible is unlocked again (savepoint rollback), so at most one is held.
            try:
                with transaction.atomic():
                    locked = _lock_agent(candidate)
                    if not selectors.call_candidates(call).filter(pk=candidate).exists():
                        raise _ChangedHands
            except _ChangedHands:
                continue
            agent = locked
            break
        if agent is None:
            return None
        call = _lock_call(call_id, company_id=company_id)
        if call.state != C.WAITING:
            return None
        call.state = call_target("offer", call.state)
        call.agent = agent
        call.offered_at = now
        call.offer_deadline = now + timedelta(seconds=call.queue.ring_timeout_seconds)
        call.save()
        _record_status(agent, now)
        _tell_call(out, call, agent.pk)
        out.send_on_commit()
        transaction.on_commit(
            lambda: telephony.send_offer(company_id=company_id, call_id=call.pk, agent_id=agent.pk)
        )
    logger.info(
        "call %s offered to agent %s",
        call.pk,
        agent.pk,
        extra={"call_id": call.pk, "agent_id": agent.pk, "company_id": company_id},
    )
    return call


def offer_work(*, agent_id: int | None = None, agent: Membership | None = None) -> None:
    """The agent may have room for more work: offer waiting calls and chats, in the company's priority.

    Locks nothing itself: route_calls (only for an agent who takes calls) and allocate_for_agent, in the
    order of the company's channel priority, take their own locks. `agent`: the membership (with company
    and queue profile) that the caller's transition just saved, which spares reading it again; otherwise
    `agent_id`.
    """
    if agent is None:
        agent = Membership.objects.select_related("company", "queue_profile").filter(pk=agent_id).first()
        if agent is None:
            return
    # Calls wait only for voice agents: one who cannot take calls changes nothing for them.
    calls = agent.can_voice
    if agent.company.channel_priority == ChannelPriority.WEBCHAT_FIRST:
        allocate_for_agent(agent=agent)
        if calls:
            route_calls(company_id=agent.company_id)
    else:
        if calls:
            route_calls(company_id=agent.company_id)
        allocate_for_agent(agent=agent)
