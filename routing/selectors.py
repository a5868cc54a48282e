"""Reads that routing, views and consumers share: who sees which queue, who may get a chat, what to show."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from contactcentre.models import ChannelPriority, Membership, Presence
from routing.models import CALL_BUSY_STATES, Call, CallState, QueueProfile, WebchatQueue
from webchat.models import HELD_STATES, Chat, ChatState
from webchat.protocol import CustomerState


def queues_visible_to(agent: Membership) -> QuerySet[WebchatQueue]:
    """The company's enabled webchat queues that the agent's Webchat Queues profile allows."""
    queues = WebchatQueue.objects.filter(company_id=agent.company_id, enabled=True)
    profile = agent.queue_profile
    if profile is None:
        return queues.none()
    if profile.all_queues:
        return queues
    return queues.filter(profiles=profile)


def agent_serves_queue(agent: Membership, queue: WebchatQueue) -> bool:
    return (
        queue.company_id == agent.company_id
        and queue.enabled
        and agent.queue_profile_id is not None
        and (agent.queue_profile.all_queues or agent.queue_profile.queues.filter(pk=queue.pk).exists())
    )


def members_serving(queue: WebchatQueue) -> QuerySet[Membership]:
    """Webchat-capable members with an active login whose profile includes the queue, whatever their
    presence. A deactivated user never serves a queue, even before their logout has caught up.

    One row per member (no join over the profile's queues), so the rows can be locked as they are read.
    """
    chosen = QueueProfile.queues.through.objects.filter(
        queueprofile_id=OuterRef("queue_profile_id"), webchatqueue_id=queue.pk
    )
    return Membership.objects.filter(
        company_id=queue.company_id, can_webchat=True, user__is_active=True
    ).filter(Q(queue_profile__all_queues=True) | Exists(chosen))


def queue_has_agents(queue: WebchatQueue) -> bool:
    """Whether any logged-in agent (Available or on a break) serves the queue."""
    return members_serving(queue).exclude(presence=Presence.UNAVAILABLE).exists()


def in_active_wrapup() -> Exists:
    return Exists(Chat.objects.filter(agent_id=OuterRef("pk"), state=ChatState.WRAPUP))


def on_a_call() -> Exists:
    """The agent has a call ringing, connected or in wrap-up."""
    return Exists(Call.objects.filter(agent_id=OuterRef("pk"), state__in=CALL_BUSY_STATES))


def allocation_candidates(queue: WebchatQueue) -> QuerySet[Membership]:
    """Agents who may be allocated a chat from the queue, with room for one more as far as this statement
    sees (the caller re-checks capacity under lock)."""
    return (
        members_serving(queue)
        .filter(presence=Presence.AVAILABLE)
        .exclude(in_active_wrapup())
        .exclude(on_a_call())
        .alias(held=held_count())
        .filter(held__lt=queue.chat_capacity())
    )


def held_count() -> Coalesce:
    """How many chats the agent (the outer query's row) holds: an annotation for Membership queries."""
    held = (
        Chat.objects.filter(agent_id=OuterRef("pk"), state__in=HELD_STATES)
        .order_by()
        .values("agent_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(held), 0, output_field=IntegerField())


def held_counts_of_free(agent_ids: list[int]) -> dict[int, int]:
    """How many chats each agent holds, for those of them neither in an active wrap-up nor on a call."""
    rows = (
        Membership.objects.filter(pk__in=agent_ids)
        .exclude(in_active_wrapup())
        .exclude(on_a_call())
        .annotate(held=held_count())
        .values_list("pk", "held")
    )
    return dict(rows)


def call_candidates(call: Call) -> QuerySet[Membership]:
    """Agents with an active login who may be offered the call, best first: idle before busy on a chat,
    Available before an interruptible break, then longest idle. The caller re-checks each under lock."""
    agents = (
        Membership.objects.filter(
            company_id=call.company_id, can_voice=True, voice_queues=call.queue_id, user__is_active=True
        )
        .filter(Q(presence=Presence.AVAILABLE) | Q(presence=Presence.BREAK, break_reason__interruptible=True))
        .exclude(in_active_wrapup())
        .exclude(on_a_call())
        .exclude(pk__in=call.missed_by.values("pk"))
        .annotate(
            busy_on_chat=Exists(Chat.objects.filter(agent_id=OuterRef("pk"), state=ChatState.ACTIVE)),
            on_break=ExpressionWrapper(Q(presence=Presence.BREAK), output_field=BooleanField()),
            idle_since=Coalesce(
                Max("calls__closed_at", filter=Q(calls__state=CallState.CLOSED)), "presence_since"
            ),
        )
    )
    if call.company.channel_priority == ChannelPriority.WEBCHAT_FIRST:
        # Webchat before voice: a call never interrupts a chat; it waits for an idle agent.
        agents = agents.filter(busy_on_chat=False)
    return agents.order_by("busy_on_chat", "on_break", F("idle_since").asc(nulls_first=True), "pk")


def _waiting_in_queue(aggregate) -> Subquery:
    # A subquery over the queue's queued chats, which the queue-order index serves, rather than a join
    # over every chat the queue ever had: the cost follows the waiting chats, not the history.
    waiting = Chat.objects.filter(queue=OuterRef("pk"), state=ChatState.QUEUED).order_by()
    return Subquery(waiting.values("queue").annotate(value=aggregate).values("value"))


def queues_with_waiting(*, queues: QuerySet[WebchatQueue]) -> QuerySet[WebchatQueue]:
    """The queues by name, each with how many chats wait in it (`waiting`): the agents' queue counters."""
    return queues.annotate(
        waiting=Coalesce(_waiting_in_queue(Count("pk")), 0, output_field=IntegerField())
    ).order_by("name")


def chats_waiting_by_queue() -> list[tuple[tuple[str, str], int]]:
    """Every queue of every company as ((company slug, queue name), chats waiting): the metrics' gauge,
    read at each scrape, one row a queue."""
    queues = queues_with_waiting(queues=WebchatQueue.objects.all()).order_by()
    return [
        ((slug, name), waiting)
        for slug, name, waiting in queues.values_list("company__slug", "name", "waiting")
    ]


def queues_with_oldest(*, queues: QuerySet[WebchatQueue]) -> QuerySet[WebchatQueue]:
    """The queues, each with when its longest-waiting chat was queued (`oldest`; None when none waits)."""
    return queues.annotate(oldest=_waiting_in_queue(Min("queued_at")))


def current_call(agent: Membership) -> Call | None:
    return Call.objects.filter(agent=agent, state__in=CALL_BUSY_STATES).select_related("queue").first()


def queue_position(chat: Chat) -> int:
    """The customer's place in the queue, counting from 1."""
    ahead = Chat.objects.filter(queue_id=chat.queue_id, state=ChatState.QUEUED).filter(
        Q(queue_priority__gt=chat.queue_priority)
        | Q(queue_priority=chat.queue_priority, queued_at__lt=chat.queued_at)
        | Q(queue_priority=chat.queue_priority, queued_at=chat.queued_at, pk__lt=chat.pk)
    )
    return ahead.count() + 1


def waiting_chats(queue_id: int) -> QuerySet[Chat]:
    """The queue's waiting chats in the order they are served."""
    return Chat.objects.filter(queue_id=queue_id, state=ChatState.QUEUED).order_by(
        "-queue_priority", "queued_at", "pk"
    )


def customer_state(chat: Chat) -> CustomerState:
    """The chat's state as the customer sees it (webchat.protocol makes the `state` frame and body of it)."""
    if chat.ended_at or chat.state == ChatState.CLOSED:
        return CustomerState("ended")
    if chat.state == ChatState.QUEUED:
        return CustomerState("queued", position=queue_position(chat))
    return CustomerState(
        "connected", agent_name=chat.agent.name if chat.agent_id else "", agent_joined=not chat.unseen
    )


@dataclass(frozen=True)
class AgentStatus:
    """The status shown on the agent's screen: their presence, or the work that overrides it."""

    code: str
    label: str
    since: datetime | None
    wrapup_deadline: datetime | None = None


STATUS_LABELS = {
    "available": "Available",
    "break": "Break",
    "handling": "Handling a chat",
    "wrapup": "Wrap-up",
    "call": "On a call",
    "unavailable": "Unavailable",
}


ACTIVE_ITEM_STATES = (ChatState.ACTIVE, ChatState.WRAPUP)
ACTIVE_ITEM_FIELDS = ("agent_id", "state", "activated_at", "wrapup_started_at", "wrapup_deadline")


def agent_status(agent: Membership) -> AgentStatus:
    return agent_status_and_call(agent)[0]


def agent_status_and_call(agent: Membership) -> tuple[AgentStatus, Call | None]:
    """The agent's status and their current call, for a page that shows both: the call is read once."""
    call = current_call(agent)
    active = Chat.objects.filter(agent=agent, state__in=ACTIVE_ITEM_STATES).only(*ACTIVE_ITEM_FIELDS).first()
    return _status(agent, call, active), call


def agent_statuses(agents: list[Membership]) -> dict[int, AgentStatus]:
    """The status of each agent, in two queries whatever their number (for the wallboard)."""
    ids = [agent.pk for agent in agents]
    calls = {
        call.agent_id: call for call in Call.objects.filter(agent_id__in=ids, state__in=CALL_BUSY_STATES)
    }
    active = {
        chat.agent_id: chat
        for chat in Chat.objects.filter(agent_id__in=ids, state__in=ACTIVE_ITEM_STATES).only(
            *ACTIVE_ITEM_FIELDS
        )
    }
    return {agent.pk: _status(agent, calls.get(agent.pk), active.get(agent.pk)) for agent in agents}


def _status(agent: Membership, call: Call | None, active: Chat | None) -> AgentStatus:
    if call is not None and call.state == CallState.CONNECTED:
        return AgentStatus("call", STATUS_LABELS["call"], call.answered_at)
    if call is not None and call.state == CallState.WRAPUP:
        return AgentStatus("wrapup", STATUS_LABELS["wrapup"], call.ended_at, call.wrapup_deadline)
    if agent.presence == Presence.UNAVAILABLE:
        return AgentStatus("unavailable", STATUS_LABELS["unavailable"], agent.presence_since)
    if active is not None and active.state == ChatState.WRAPUP:
        return AgentStatus(
            "wrapup", STATUS_LABELS["wrapup"], active.wrapup_started_at, active.wrapup_deadline
        )
    if active is not None:
        return AgentStatus("handling", STATUS_LABELS["handling"], active.activated_at)
    if agent.presence == Presence.BREAK:
        reason = agent.break_reason.name if agent.break_reason_id else ""
        label = f"{STATUS_LABELS['break']}: {reason}" if reason else STATUS_LABELS["break"]
        return AgentStatus("break", label, agent.presence_since)
    return AgentStatus("available", STATUS_LABELS["available"], agent.presence_since)


def wait_seconds(chat: Chat, now: datetime | None = None) -> int | None:
    """How long the customer has waited for a reply, or None when nobody is waiting."""
    if chat.customer_waiting_since is None:
        return None
    return max(0, int(((now or timezone.now()) - chat.customer_waiting_since).total_seconds()))
