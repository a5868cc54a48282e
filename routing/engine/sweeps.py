"""The periodic flags and sweeps (routing/jobs.py runs them): reply-wait alerts, and allocation and call
routing of whatever waits, which catch what the triggers after each change missed."""

from datetime import datetime, timedelta

from django.db import transaction

from routing.engine.allocation import allocate_after_change
from routing.engine.call_routing import route_calls
from routing.engine.clocks import _now
from routing.engine.frames import _tell_agent
from routing.engine.rules import _each
from routing.events import Outbox
from routing.models import Call, CallState, WebchatQueue
from webchat import protocol
from webchat.models import HELD_STATES, Chat, ChatState

S = ChatState
C = CallState


def flag_reply_alerts(*, now: datetime | None = None) -> int:
    """Flag chats whose customer has waited for a reply longer than the queue's limit, and tell the agent;
    each queue in its own transaction. Returns how many chats were flagged.

    Locks no row ahead: one conditional UPDATE per queue, whose condition re-checks the wait, so a reply
    that lands meanwhile wins.
    """
    now = now or _now()
    waiting = (
        Chat.objects.filter(state__in=HELD_STATES, reply_overdue=False, customer_waiting_since__isnull=False)
        .order_by()  # DISTINCT over the model's ordering too would give one row per chat
        .values_list("queue_id", flat=True)
        .distinct()
    )
    queues = WebchatQueue.objects.filter(pk__in=list(waiting)).order_by("pk")
    flagged = 0

    def flag(queue: WebchatQueue) -> None:
        nonlocal flagged
        flagged += _flag_reply_alerts_of(queue, now=now)

    _each("flag_reply_alerts", list(queues), flag)
    return flagged


def _flag_reply_alerts_of(queue: WebchatQueue, *, now: datetime) -> int:
    cutoff = now - timedelta(seconds=queue.reply_alert_seconds)
    due = Chat.objects.filter(
        queue=queue,
        state__in=HELD_STATES,
        reply_overdue=False,
        customer_waiting_since__lte=cutoff,
    )
    rows = list(due.values_list("pk", "agent_id"))
    if not rows:
        return 0
    out = Outbox()
    with transaction.atomic():
        # A reply that lands meanwhile clears customer_waiting_since: the filter re-checks it.
        Chat.objects.filter(pk__in=[pk for pk, _ in rows], customer_waiting_since__lte=cutoff).update(
            reply_overdue=True
        )
        for chat_id, agent_id in rows:
            _tell_agent(out, agent_id, protocol.alert(chat_id))
            _tell_agent(out, agent_id, protocol.inbox())
        out.send_on_commit()
    return len(rows)


def sweep_allocation() -> int:
    """Allocate whatever is waiting in every auto-allocating queue, each queue in its own transaction:
    catches what triggers missed. Locks and rules as allocate_queue. Returns how many chats were allocated."""
    queue_ids = list(
        Chat.objects.filter(state=S.QUEUED, queue__auto_allocate=True, queue__enabled=True)
        .order_by()  # DISTINCT over the model's ordering too would give one row per waiting chat
        .values_list("queue_id", flat=True)
        .distinct()
    )
    allocated = 0

    def allocate(queue_id: int) -> None:
        nonlocal allocated
        allocated += len(allocate_after_change(queue_id=queue_id))

    _each("sweep_allocation", sorted(queue_ids), allocate)
    return allocated


def sweep_calls() -> int:
    """Offer waiting calls of every company, each company's on its own and each call in its own transaction:
    catches what triggers missed. Locks and rules as route_calls. Returns how many calls were offered."""
    waiting = Call.objects.filter(state=C.WAITING).order_by()  # no DISTINCT over the model's ordering
    companies = sorted(waiting.values_list("company_id", flat=True).distinct())
    offered = 0

    def route(company_id: int) -> None:
        nonlocal offered
        offered += len(route_calls(company_id=company_id))

    _each("sweep_calls", companies, route)
    return offered
