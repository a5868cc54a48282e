"""Allocation: giving a queue's waiting chats to eligible agents with free capacity, oldest first, and the
rounds of allocation that the threads of one process share."""

import logging
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import DateTimeField, Exists, OuterRef, Value
from django.db.models.functions import Coalesce

from contactcentre.models import Membership
from routing import selectors
from routing.engine.clocks import _now
from routing.engine.frames import _tell_agent, _tell_customer, _tell_inbox, _tell_queue
from routing.engine.rules import target_state
from routing.events import Outbox
from routing.models import WebchatQueue
from runtime import metrics
from webchat import protocol
from webchat.models import Chat, ChatState

logger = logging.getLogger(__package__)

S = ChatState


def _give_to_agent(chat: Chat, agent: Membership, state: str, now: datetime, *, unseen: bool) -> None:
    chat.state = state
    chat.agent = agent
    chat.allocated_at = now
    if chat.answered_at is None:
        # Answered: taken or allocated, the first time (a chat put back and given again keeps it).
        chat.answered_at = now
    chat.unseen = unseen
    chat.queue_priority = 0
    agent.last_allocated_at = now


def _after_given(out: Outbox, chat: Chat, agent: Membership) -> None:
    _tell_inbox(out, chat, agent.pk)
    _tell_queue(out, chat.queue)
    _tell_customer(out, chat)
    out.add_positions(chat.queue_id)


def _may_get(chat: Chat, agent_id: int, now: datetime, reoffer_after: timedelta) -> bool:
    """Whether allocation may give the chat to this agent: to the agent who put it back or transferred it
    only once it has waited `reoffer_after` since, so that with nobody else on shift it does not wait
    forever."""
    if agent_id != chat.returned_by_id:
        return True
    return chat.returned_at is None or now - chat.returned_at >= reoffer_after


def allocate_queue(*, queue_id: int) -> list[Chat]:
    """Allocate the queue's waiting chats, oldest first, to eligible agents with free capacity.

    Locks the candidate agents (SKIP LOCKED: an agent busy in another transition is passed over this round),
    then the chats (SKIP LOCKED). Among agents under capacity it picks the fewest open chats, then the
    longest since their last allocation. A chat goes to the agent who put it back or transferred it only
    PUT_BACK_REOFFER_SECONDS after, and only when no other agent can take it. Returns the chats allocated.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        queue = WebchatQueue.objects.select_related("company").filter(pk=queue_id).first()
        if queue is None or not (queue.enabled and queue.auto_allocate):
            return []
        agents = list(
            selectors.allocation_candidates(queue)
            .select_for_update(skip_locked=True, no_key=True, of=("self",))
            .select_related("user")
            .order_by("pk")
        )
        if not agents:
            return []
        # Re-check under lock, in a statement that sees every transition committed before the locks were
        # taken: no active wrap-up, no call, capacity left.
        held = selectors.held_counts_of_free([a.pk for a in agents])
        capacity = queue.chat_capacity()
        agents = [a for a in agents if a.pk in held]
        free = {a.pk: capacity - held[a.pk] for a in agents if held[a.pk] < capacity}
        if not free:
            return []
        chats = list(
            Chat.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
            .select_related("queue")
            .filter(queue=queue, state=S.QUEUED)
            .order_by("-queue_priority", "queued_at", "pk")[: sum(free.values())]
        )
        epoch = datetime.min.replace(tzinfo=UTC)
        reoffer_after = timedelta(seconds=settings.PUT_BACK_REOFFER_SECONDS)
        by_id = {a.pk: a for a in agents}
        allocated: list[Chat] = []
        for chat in chats:
            choices = [pk for pk, n in free.items() if n > 0 and _may_get(chat, pk, now, reoffer_after)]
            if not choices:
                continue
            # The agent who put it back comes last: anyone else who can take it gets it first.
            pk = min(
                choices,
                key=lambda pk: (
                    pk == chat.returned_by_id,
                    held[pk],
                    by_id[pk].last_allocated_at or epoch,
                    pk,
                ),
            )
            agent = by_id[pk]
            _give_to_agent(chat, agent, target_state("allocate", chat.state), now, unseen=True)
            chat.returned_by = None
            chat.returned_at = None
            held[pk] += 1
            free[pk] -= 1
            allocated.append(chat)
        if not allocated:
            return []
        # Every chat given to one agent gets the same values: one UPDATE per agent, not a CASE per chat.
        given: dict[int, list] = {}
        for chat in allocated:
            given.setdefault(chat.agent_id, []).append(chat.pk)
        for agent_id, chat_ids in given.items():
            Chat.objects.filter(pk__in=chat_ids).update(
                state=S.INBOX,
                agent_id=agent_id,
                allocated_at=now,
                answered_at=Coalesce("answered_at", Value(now, output_field=DateTimeField())),
                unseen=True,
                queue_priority=0,
                returned_by=None,
                returned_at=None,
            )
        Membership.objects.filter(pk__in=given).update(last_allocated_at=now)
        for chat in allocated:
            _after_given(out, chat, chat.agent)
            _tell_agent(out, chat.agent_id, protocol.bell(chat.pk))
        out.send_on_commit()
        transaction.on_commit(partial(metrics.ALLOCATIONS.inc, len(allocated)))
    logger.info(
        "allocated %d chat(s) from queue %s",
        len(allocated),
        queue_id,
        extra={
            "queue_id": queue_id,
            "company_id": queue.company_id,
            "allocations": [{"chat_id": str(chat.pk), "agent_id": chat.agent_id} for chat in allocated],
        },
    )
    return allocated


def allocate_for_agent(*, agent: Membership | int) -> None:
    """Offer the agent's queues' waiting chats after the agent freed capacity or became Available.

    Locks nothing itself: each of the agent's auto-allocating queues with a chat waiting is allocated as
    allocate_after_change does. `agent`: the membership with its queue profile as the caller's transition
    left it, or its id.
    """
    if isinstance(agent, int):
        agent = Membership.objects.select_related("queue_profile").filter(pk=agent).first()
        if agent is None:
            return
    waiting = Chat.objects.filter(queue_id=OuterRef("pk"), state=S.QUEUED)
    allocate_queues(
        queue_ids=selectors.queues_visible_to(agent)
        .filter(auto_allocate=True)
        .filter(Exists(waiting))
        .values_list("pk", flat=True)
    )


class _Rounds:
    """The allocation rounds of one queue in this process, shared by every thread that asks for one.

    Asks are numbered. A round notes the last number asked when it starts; once it has committed, every ask
    up to that number is answered, for the round's statements saw each asker's committed change. A thread
    asking while another's round runs waits for it, then runs one more round only if none that started after
    its ask has finished: when many changes arrive together (agents becoming Available at the start of a
    shift, a wave of customers), one round serves them all instead of each taking its own, and each caller
    still returns after an allocation that saw its change.
    """

    def __init__(self) -> None:
        self.running = threading.Lock()
        self.counting = threading.Lock()
        self.asked = 0
        self.answered = 0

    def ask(self) -> int:
        with self.counting:
            self.asked += 1
            return self.asked

    def allocate(self, queue_id: int) -> list[Chat]:
        ticket = self.ask()
        with self.running:
            if self.answered >= ticket:
                return []
            with self.counting:
                starts_at = self.asked
            allocated = allocate_queue(queue_id=queue_id)
            self.answered = starts_at
        return allocated


_rounds: dict[int, _Rounds] = {}
_rounds_lock = threading.Lock()


def _rounds_of(queue_id: int) -> _Rounds:
    rounds = _rounds.get(queue_id)
    if rounds is None:
        with _rounds_lock:
            rounds = _rounds.setdefault(queue_id, _Rounds())
    return rounds


def allocate_after_change(*, queue_id: int) -> list[Chat]:
    """Allocate from the queue after a change that may let it (a chat arrived, an agent freed capacity or
    became Available), in a round shared with the changes this process made meanwhile. Returns the chats
    this caller's own round allocated (none when another thread's round answered for it).

    Called inside a transaction, the change is not committed yet and no other thread's round would see it:
    the round runs here, in the caller's transaction. Locks and rules as allocate_queue.
    """
    if connection.in_atomic_block:
        return allocate_queue(queue_id=queue_id)
    return _rounds_of(queue_id).allocate(queue_id)


def allocate_queues(*, queue_ids: Iterable[int]) -> int:
    """Allocate from each of these queues in turn, as allocate_after_change does (its locks and rules).
    Returns how many chats were allocated."""
    allocated = 0
    for queue_id in list(queue_ids):
        allocated += len(allocate_after_change(queue_id=queue_id))
    return allocated


def _agent_queue_ids(agent: Membership) -> list[int]:
    return list(
        selectors.queues_visible_to(agent)
        .filter(auto_allocate=True, chats__state=S.QUEUED)
        .values_list("pk", flat=True)
        .distinct()
    )
