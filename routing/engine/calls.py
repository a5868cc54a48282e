"""Voice calls. A call is waiting, offered (ringing at one agent), connected, in call wrap-up, or closed.

Calls have priority over chats by default: a busy agent (active chat, not in chat wrap-up) is offered a
call only when no idle agent is free, and the call parks the chat until the call is finished. Events from
the telephony system are recorded once each (TelephonyEvent): a repeat changes nothing.
"""

from datetime import datetime, timedelta

from django.db import transaction

from contactcentre.models import Membership
from crm import services as crm_services
from routing.engine.call_routing import offer_work, route_calls
from routing.engine.chats import _park_active_items
from routing.engine.clocks import _activate, _due, _now
from routing.engine.details import _apply_details
from routing.engine.frames import _tell_call, _tell_customer, _tell_inbox, _tell_wallboard
from routing.engine.locks import _chats_to_lock, _lock_agent, _lock_agents_call, _lock_call
from routing.engine.rules import (
    TransitionError,
    _each,
    _landing,
    call_target,
    target_state,
)
from routing.engine.status_history import _record_status
from routing.events import Outbox
from routing.models import Call, CallState, TelephonyEvent, VoiceQueue
from webchat.models import ChatState, ParkReason

S = ChatState
C = CallState


def _find_call(company_id: int, pbx_call_id: str) -> Call:
    call = Call.objects.filter(company_id=company_id, pbx_call_id=pbx_call_id).only("pk", "agent_id").first()
    if call is None:
        raise TransitionError("unknown_call", "No such call.", status=404)
    return call


def _first_time(company_id: int, pbx_call_id: str, event: str) -> bool:
    """Record a telephony event; False when it was already recorded (a repeat changes nothing)."""
    _, created = TelephonyEvent.objects.get_or_create(
        company_id=company_id, pbx_call_id=pbx_call_id, event=event
    )
    return created


def call_arrived(*, company_id: int, pbx_call_id: str, queue_slug: str, caller_number: str = "") -> Call:
    """The telephony system tells of a new call on a voice queue of the company; it is routed at once.

    Locks no row: the event is recorded once (TelephonyEvent, unique per company, call and event, so a
    concurrent repeat waits for this transaction), then the call is created waiting. Refuses a queue that
    is not the company's (404 unknown_queue). A repeated event returns the call as it is. The company's
    waiting calls are routed after commit (route_calls).
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        queue = VoiceQueue.objects.filter(company_id=company_id, slug=queue_slug).first()
        if queue is None:
            raise TransitionError("unknown_queue", "No such voice queue.", status=404)
        if not _first_time(company_id, pbx_call_id, "call.arrived"):
            return Call.objects.get(company_id=company_id, pbx_call_id=pbx_call_id)
        call = Call.objects.create(
            company_id=company_id,
            queue=queue,
            pbx_call_id=pbx_call_id,
            caller_number=caller_number,
            arrived_at=now,
        )
        _tell_wallboard(out, company_id)
        out.send_on_commit()
    route_calls(company_id=company_id)
    call.refresh_from_db()
    return call


def call_answer(*, agent: Membership, call_id: int) -> Call:
    """The agent answers (the Answer button, or the telephony system saying they picked up).

    Locks the agent, then the call, then the agent's active chat and active wrap-up (by primary key). Refuses
    another company's call (404 unknown_call), a call ringing for someone else (404 not_yours) and a call
    that is no longer waiting or ringing (409 call_answer). One active item per agent: the active chat
    parks (reason: interrupted) until the call and its wrap-up are finished, and an active chat wrap-up
    pauses the same way; the customers of parked chats are told.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent = _lock_agent(agent)
        call = _lock_call(call_id, company_id=agent.company_id)
        if call.state == C.OFFERED and call.agent_id != agent.pk:
            raise TransitionError("not_yours", "This call is ringing for someone else.", status=404)
        call.state = call_target("answer", call.state)
        call.agent = agent
        call.answered_at = now
        call.offer_deadline = None
        parked = _park_active_items(out, agent, except_chat=None, now=now, reason=ParkReason.INTERRUPTED)
        if parked:
            call.interrupted_chat = parked[0]
            for chat in parked:
                _tell_customer(out, chat)
        call.save()
        _record_status(agent, now)
        _tell_call(out, call, agent.pk)
        out.send_on_commit()
    return call


def call_answered_by_pbx(*, company_id: int, pbx_call_id: str, username: str) -> Call:
    """The telephony system says an agent picked the call up on their phone. A repeat changes nothing.

    Records the event once (TelephonyEvent), then answers as call_answer does, with its locks and rules, in
    the same transaction. Refuses an agent or call the company does not have (404 unknown_agent,
    unknown_call). An answer that arrives after the call ended leaves the end standing.
    """
    agent = Membership.objects.filter(company_id=company_id, user__username=username).first()
    if agent is None:
        raise TransitionError("unknown_agent", "No such agent.", status=404)
    call = _find_call(company_id, pbx_call_id)
    with transaction.atomic():
        if not _first_time(company_id, pbx_call_id, "call.answered"):
            return Call.objects.get(pk=call.pk)
        try:
            return call_answer(agent=agent, call_id=call.pk)
        except TransitionError as refusal:
            if refusal.code == "call_answer":
                # Answered after it ended (events out of order): the end stands.
                return Call.objects.get(pk=call.pk)
            raise


def call_hang_up(*, agent: Membership, call_id: int) -> Call:
    """Hang up: a ringing call is declined and offered to the next agent; a connected call ends.

    Refuses a call that is not the agent's (404 unknown_call). Declining locks the agent, then the call, and
    refuses a call no longer ringing for them (404 not_yours, 409 call_decline); the call is offered to the
    next agent after commit, never again to this one. Ending locks the call's agent, then the call, as
    call_ended_by_pbx does.
    """
    call = Call.objects.filter(pk=call_id, company_id=agent.company_id, agent=agent).first()
    if call is None:
        raise TransitionError("unknown_call", "No such call.", status=404)
    if call.state == C.OFFERED:
        return _ring_out(agent_id=agent.pk, call_id=call.pk, action="decline")
    return _end_call(company_id=agent.company_id, call_id=call.pk)


def call_ended_by_pbx(*, company_id: int, pbx_call_id: str) -> Call:
    """The telephony system says the call ended. A repeat changes nothing.

    Records the event once (TelephonyEvent); a call already in wrap-up or closed stays as it is. Otherwise
    locks the call's agent, then the call: connected, it enters call wrap-up (or closes where the queue has
    none); waiting or ringing, it closes as abandoned. A closed call is logged in the CRM and resumes the
    chat it interrupted (locked after the call); the agent is then offered more work. Refuses a call the
    company does not have (404 unknown_call).
    """
    call = _find_call(company_id, pbx_call_id)
    with transaction.atomic():
        if not _first_time(company_id, pbx_call_id, "call.ended"):
            return Call.objects.get(pk=call.pk)
        current = Call.objects.get(pk=call.pk)
        if current.state in (C.WRAPUP, C.CLOSED):
            return current
        return _end_call(company_id=company_id, call_id=call.pk)


def _end_call(*, company_id: int, call_id: int) -> Call:
    """Locks the call's agent, then the call. Connected: call wrap-up (or closed when the queue has none).
    Waiting or ringing: closed, the caller having hung up."""
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent_id = Call.objects.filter(pk=call_id).values_list("agent_id", flat=True).get()
        agent = _lock_agent(agent_id) if agent_id else None
        call = _lock_call(call_id, company_id=company_id)
        target = call_target("end", call.state)
        call.ended_at = now
        call.offer_deadline = None
        if target == C.WRAPUP and call.queue.wrapup_seconds:
            call.state = C.WRAPUP
            call.wrapup_deadline = now + timedelta(seconds=call.queue.wrapup_seconds)
        else:
            outcome = "completed" if call.answered_at else "abandoned"
            _close_call(out, call, agent, now, outcome)
        call.save()
        if agent is not None:
            _record_status(agent, now)
        _tell_call(out, call, agent_id)
        out.send_on_commit()
    if call.state == C.CLOSED and agent_id is not None:
        offer_work(agent_id=agent_id)
    return call


def _close_call(out: Outbox, call: Call, agent: Membership | None, now: datetime, outcome: str) -> None:
    """Close the call, log it in the CRM and resume the chat it interrupted. The caller holds the agent."""
    call.state = C.CLOSED
    call.outcome = outcome
    call.closed_at = now
    call.wrapup_deadline = None
    crm_services.interaction_record_call(call=call, agent=agent)
    if agent is not None and call.interrupted_chat_id:
        _resume_interrupted(out, agent, call.interrupted_chat_id, now)


def _resume_interrupted(out: Outbox, agent: Membership, chat_id, now: datetime) -> None:
    """The chat a call interrupted becomes active again by itself, or enters wrap-up if the customer ended
    it meanwhile. Nothing happens if the agent has since moved it on."""
    chat = _chats_to_lock().filter(pk=chat_id).first()
    if chat is None or chat.agent_id != agent.pk or chat.park_reason != ParkReason.INTERRUPTED:
        return
    if chat.state not in (S.PARKED, S.WRAPUP_PARKED):
        return
    target = _landing(chat, target_state("activate", chat.state))
    _activate(chat, target, now)
    chat.save()
    _tell_inbox(out, chat, agent.pk)
    _tell_customer(out, chat)


def call_wrapup_complete(
    *, agent: Membership, call_id: int, notes: str | None = None, classification_id: int | None = None
) -> Call:
    """The agent completes the call's wrap-up, optionally with notes and a classification.

    Locks the agent, then the call, then the chat the call interrupted. Refuses another agent's call (404
    not_yours), a call not in wrap-up (409 call_complete_wrapup), notes that cannot be stored (400 invalid)
    and a classification that is not the company's (400 unknown_classification). The call closes, is logged
    in the CRM and resumes the chat it interrupted; the agent is then offered more work.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent, call = _lock_agents_call(agent, call_id, not_yours="This call is not yours.")
        call_target("complete_wrapup", call.state)
        _apply_details(call, notes=notes, classification_id=classification_id)
        _close_call(out, call, agent, now, "completed")
        call.save()
        _record_status(agent, now)
        _tell_call(out, call, agent.pk)
        out.send_on_commit()
    offer_work(agent=agent)
    return call


def _ring_out(*, agent_id: int, call_id: int, action: str, now: datetime | None = None) -> Call:
    """Take the offer back from the agent (rang out or declined) and offer the call to the next agent."""
    now = now or _now()
    out = Outbox()
    with transaction.atomic():
        agent, call = _lock_agents_call(agent_id, call_id, not_yours="This call is not ringing for you.")
        if action == "ring_out" and (call.state != C.OFFERED or call.offer_deadline > now):
            return call
        call.state = call_target(action, call.state)
        call.agent = None
        call.offer_deadline = None
        call.save()
        call.missed_by.add(agent)
        _record_status(agent, now)
        _tell_call(out, call, agent.pk)
        out.send_on_commit()
    route_calls(company_id=agent.company_id)
    call.refresh_from_db()
    return call


def expire_call_offers(*, now: datetime | None = None) -> int:
    """Ring-no-answer: offers past their ring timeout move on to the next agent, each call in its own
    transaction.

    Locks the agent, then the call; re-checks under the lock that the call still rings for that agent past
    its deadline (an answer meanwhile wins). The agent is not offered the call again. Returns how many
    offers were handled.
    """
    now = now or _now()
    due = _due(Call.objects.filter(state=C.OFFERED), "offer_deadline", now)
    return _each(
        "expire_call_offers",
        due,
        lambda item: _ring_out(agent_id=item[1], call_id=item[0], action="ring_out", now=now) or True,
    )


def expire_call_wrapups(*, now: datetime | None = None) -> int:
    """Complete call wrap-ups whose time has run out, each call in its own transaction.

    Locks the agent, then the call, then the chat the call interrupted; re-checks under the lock that the
    call is still in wrap-up past its deadline. Returns how many were completed.
    """
    now = now or _now()
    due = _due(Call.objects.filter(state=C.WRAPUP), "wrapup_deadline", now)
    return _each("expire_call_wrapups", due, lambda item: _expire_call_wrapup(*item, now=now))


def _expire_call_wrapup(call_id: int, agent_id: int, *, now: datetime) -> bool:
    """Locks the agent, then the call."""
    out = Outbox()
    with transaction.atomic():
        agent = _lock_agent(agent_id)
        call = _lock_call(call_id, company_id=agent.company_id)
        if call.state != C.WRAPUP or call.wrapup_deadline > now:
            return False
        _close_call(out, call, agent, now, "completed")
        call.save()
        _record_status(agent, now)
        _tell_call(out, call, agent_id)
        out.send_on_commit()
    offer_work(agent_id=agent_id)
    return True
