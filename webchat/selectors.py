"""Reads of the agent's inbox and the supervisor's wallboard: what each part of the pages shows.

Every read is scoped to the agent's company and to what the agent holds or may see. The inbox and an open
queue show dozens of rows, each re-rendered on every change: what a row shows is worked out here in Python
once, so that the row's template is plain variables, not tags and filters.
"""

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, IntegerField, Model, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from contactcentre.models import Membership, Presence
from crm import selectors as crm_selectors
from reports import live as reports_live
from routing import selectors as routing_selectors
from routing.models import AgentStatusInterval, BreakReason, Call, CallState, WebchatQueue
from webchat.models import HELD_STATES, Chat, Classification, ResponseTemplate, Sender
from webchat.templatetags.inbox import customer_left, since, state_label, wait_alert

# Enough history beside a chat; the contact's page has the rest.
HISTORY_SHOWN = 10
WAITING_SHOWN = 50
CONTACT_RESULTS_SHOWN = 8


def _url_for(name: str) -> Callable[[object], str]:
    """The URL of `name` for any chat id, at the cost of one reverse() per page rather than one per row."""
    stand_in = str(uuid.UUID(int=0))
    prefix, suffix = reverse(name, args=[stand_in]).split(stand_in)
    return lambda pk: f"{prefix}{pk}{suffix}"


# ---------------------------------------------------------------------------------------------------------
# The inbox: the chats the agent holds


def _inbox_chats(*, agent: Membership) -> QuerySet[Chat]:
    return (
        Chat.objects.filter(company_id=agent.company_id, agent=agent, state__in=HELD_STATES)
        .select_related("queue")
        .order_by("allocated_at", "pk")
    )


def inbox_unseen_count(*, agent: Membership) -> int:
    """How many of the agent's chats they have not opened yet: the bell's number."""
    return _inbox_chats(agent=agent).filter(unseen=True).count()


@dataclass(frozen=True)
class InboxRow:
    pk: uuid.UUID
    state: str
    unseen: bool
    name: str
    queue_name: str
    label: str
    alert: str
    url: str


# What a row reads of a chat and its queue; the rest of each row's 50 columns is not loaded.
ROW_FIELDS = (
    "state",
    "unseen",
    "customer_name",
    "park_reason",
    "ended_by",
    "customer_waiting_since",
    "reply_overdue",
    "queue__name",
    "queue__reply_alert_seconds",
)


def inbox_list(*, agent: Membership, now: datetime) -> list[InboxRow]:
    """The rows of the agent's inbox, oldest allocation first."""
    chats = _inbox_chats(agent=agent).only(*ROW_FIELDS)
    url = _url_for("inbox_chat")
    return [
        InboxRow(
            pk=chat.pk,
            state=chat.state,
            unseen=chat.unseen,
            name=chat.display_name,
            queue_name=chat.queue.name,
            label=f"{state_label(chat)} · customer left" if customer_left(chat) else state_label(chat),
            alert=wait_alert(chat, now=now),
            url=url(chat.pk),
        )
        for chat in chats
    ]


# ---------------------------------------------------------------------------------------------------------
# Queues: the counters and the waiting chats


def queue_list(*, agent: Membership) -> QuerySet[WebchatQueue]:
    """The queues the agent sees, by name, each with how many chats wait in it."""
    return routing_selectors.queues_with_waiting(queues=routing_selectors.queues_visible_to(agent))


def queue_get(*, agent: Membership, queue_id: int) -> WebchatQueue:
    """One queue the agent sees, with its counter; any other is not found."""
    return get_object_or_404(queue_list(agent=agent), pk=queue_id)


@dataclass(frozen=True)
class WaitingRow:
    pk: uuid.UUID
    name: str
    waited: str
    take_url: str


def queue_waiting_list(*, queue: WebchatQueue, now: datetime) -> list[WaitingRow]:
    """The first of the queue's waiting chats, in the order they are served; none when the queue does not
    let agents see them."""
    if not queue.agents_view_queue_status:
        return []
    chats = routing_selectors.waiting_chats(queue.pk).only("pk", "customer_name", "queued_at")
    return _waiting_rows(chats[:WAITING_SHOWN], now)


def _waiting_rows(chats: Iterable[Chat], now: datetime) -> list[WaitingRow]:
    take_url = _url_for("inbox_take")
    return [
        WaitingRow(
            pk=chat.pk,
            name=chat.display_name,
            waited=since(chat.queued_at, now=now),
            take_url=take_url(chat.pk),
        )
        for chat in chats
    ]


def queue_front_chat_id(*, agent: Membership, queue_id: int) -> uuid.UUID | None:
    """The chat at the front of a queue the agent sees; None when nobody waits."""
    queue = get_object_or_404(routing_selectors.queues_visible_to(agent), pk=queue_id)
    return routing_selectors.waiting_chats(queue.pk).values_list("pk", flat=True).first()


# ---------------------------------------------------------------------------------------------------------
# One chat: the workspace


def chat_get(*, agent: Membership, chat_id) -> Chat:
    """A chat the agent holds or held (closed ones stay readable); anyone else's is not found."""
    return get_object_or_404(
        Chat.objects.select_related("queue", "contact", "classification"),
        pk=chat_id,
        company_id=agent.company_id,
        agent=agent,
    )


def chat_find(*, agent: Membership, chat_id) -> Chat | None:
    """The chat if the agent still holds or held it, else None (it left them meanwhile)."""
    return (
        Chat.objects.select_related("queue", "contact", "classification")
        .filter(pk=chat_id, company_id=agent.company_id, agent=agent)
        .first()
    )


def _offered_on(model: type[Model], chat: Chat) -> QuerySet:
    """Templates or classifications of the chat's company offered on its queue (none listed: on all)."""
    return (
        model.objects.filter(company_id=chat.company_id)
        .filter(Q(queues=None) | Q(queues=chat.queue_id))
        .distinct()
    )


def response_template_fill(*, agent: Membership, chat: Chat, template_id: str) -> str | None:
    """A response template offered on the chat's queue with its placeholders filled; None for any other
    template or a malformed id."""
    template = (
        _offered_on(ResponseTemplate, chat).filter(pk=int(template_id)).first()
        if template_id.isascii() and template_id.isdigit()
        else None
    )
    if template is None:
        return None
    values = {
        "{customer_name}": chat.customer_name or (chat.contact.name if chat.contact else ""),
        "{agent_name}": agent.name,
        "{queue_name}": chat.queue.name,
        "{company_name}": agent.company.name,
    }
    text = template.text
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def transcript_get(*, agent: Membership, chat: Chat, after_seq: int | None = None) -> dict:
    """The chat's messages in order (with `after_seq`, only those after it: what a page showing up to
    there lacks), and which customer message the wait alert stands on (None when nobody waits)."""
    messages = chat.messages.order_by("seq")
    if after_seq is not None:
        messages = messages.filter(seq__gt=after_seq)
    messages = list(messages)
    # The chat's wait is read after its messages: a customer message is stored with its chat's wait in one
    # transaction, so a message listed here is never shown without the wait it started. The chat given may
    # have been read before that message was stored (a view reads the chat, then its messages).
    chat.refresh_from_db(fields=["customer_waiting_since", "reply_overdue"])
    waiting_seq = None
    if chat.customer_waiting_since is not None:
        waiting_seq = next((m.seq for m in reversed(messages) if m.sender == Sender.CUSTOMER), None)
        if waiting_seq is None and after_seq is not None:
            customers = chat.messages.filter(sender=Sender.CUSTOMER).order_by("-seq")
            waiting_seq = customers.values_list("seq", flat=True).first()
    return {
        "agent": agent,
        "chat": chat,
        "messages": messages,
        "waiting_seq": waiting_seq,
        "now": timezone.now(),
    }


def workspace_get(*, agent: Membership, chat: Chat | None, queues: list[WebchatQueue] | None = None) -> dict:
    """The workspace; `queues`, the agent's visible queues when the page has read them already."""
    if chat is None:
        return {"chat": None}
    if queues is None:
        transfer_queues = (
            routing_selectors.queues_visible_to(agent).exclude(pk=chat.queue_id).order_by("name")
        )
    else:
        transfer_queues = [queue for queue in queues if queue.pk != chat.queue_id]
    history = []
    if chat.contact_id:
        visible = crm_selectors.contact_interactions(contact=chat.contact, viewer=agent)
        history = visible.exclude(chat=chat)[:HISTORY_SHOWN]
    return {
        **transcript_get(agent=agent, chat=chat),
        "templates": _offered_on(ResponseTemplate, chat).order_by("title"),
        "classifications": _offered_on(Classification, chat).order_by("code"),
        "transfer_queues": transfer_queues,
        "extensions_left": max(0, chat.queue.wrapup_extensions - chat.wrapup_extensions_used),
        "history": history,
        "max_message_chars": settings.WEBCHAT_MAX_MESSAGE_CHARS,
    }


# ---------------------------------------------------------------------------------------------------------
# The agent's status and call


def status_get(*, agent: Membership, status: routing_selectors.AgentStatus | None = None) -> dict:
    """The status bar: the agent's status and the break reasons they may choose."""
    return {
        "agent": agent,
        "status": status or routing_selectors.agent_status(agent),
        "break_reasons": BreakReason.objects.filter(company_id=agent.company_id),
        "now": timezone.now(),
    }


def call_get(*, agent: Membership) -> dict:
    """The call banner: the agent's call ringing, connected or in wrap-up, if any."""
    return {"call": routing_selectors.current_call(agent), "now": timezone.now()}


def inbox_page_get(*, agent: Membership, chat: Chat | None = None) -> dict:
    """Everything the whole inbox page shows, each part read once."""
    now = timezone.now()
    agent_status, call = routing_selectors.agent_status_and_call(agent)
    queues = list(queue_list(agent=agent))
    inbox = inbox_list(agent=agent, now=now)
    return {
        **status_get(agent=agent, status=agent_status),
        **workspace_get(agent=agent, chat=chat, queues=queues),
        "call": call,
        "now": now,
        "unseen": sum(row.unseen for row in inbox),
        "inbox": inbox,
        "queues": queues,
    }


# ---------------------------------------------------------------------------------------------------------
# The wallboard


WALLBOARD_REFRESH_SECONDS = 20
# A call an agent holds: in conversation or in its wrap-up (a call ringing them still waits).
CALLS_HELD_STATES = (CallState.CONNECTED, CallState.WRAPUP)


def wallboard_get(*, company_id: int) -> dict:
    """Every enabled queue of the company, chat and voice, with its live figures (reports.live), and every
    agent with their status, how long they have been in it, and the chats and calls they hold: people
    logged in first. A constant number of queries whatever the number of queues and agents."""
    now = timezone.now()
    queues = reports_live.queues_live(company_id=company_id, now=now)
    calls_held = (
        Call.objects.filter(agent_id=OuterRef("pk"), state__in=CALLS_HELD_STATES)
        .order_by()
        .values("agent_id")
        .annotate(n=Count("pk"))
    )
    open_interval = AgentStatusInterval.objects.filter(agent_id=OuterRef("pk"), ended_at__isnull=True)
    members = list(
        Membership.objects.filter(company_id=company_id)
        .select_related("user", "break_reason")
        .annotate(
            held=routing_selectors.held_count(),
            calls_held=Coalesce(Subquery(calls_held.values("n")), 0, output_field=IntegerField()),
            status_started_at=Subquery(open_interval.values("started_at")[:1]),
        )
    )
    statuses = routing_selectors.agent_statuses(members)
    agents = [
        WallboardAgent(member, status, _time_in_status_since(member, status))
        for member, status in ((member, statuses[member.pk]) for member in members)
    ]
    # Logged-in people first: the board is about who is working now.
    agents.sort(key=lambda row: (row.member.presence == Presence.UNAVAILABLE, row.member.name.lower()))
    return {
        "queues": queues,
        "queues_below_warning": [queue for queue in queues if queue.below_warning],
        "agents": agents,
        "now": now,
        "refresh_seconds": WALLBOARD_REFRESH_SECONDS,
    }


@dataclass(frozen=True)
class WallboardAgent:
    member: Membership
    status: routing_selectors.AgentStatus
    since: datetime | None


def _time_in_status_since(member: Membership, status: routing_selectors.AgentStatus) -> datetime | None:
    """When the agent's status began: the start of their open status interval (the status history, which
    also starts a new interval when a chat ends and the agent is Available again), or the status's own
    moment when there is no history yet."""
    started = member.status_started_at
    if started is not None and (status.since is None or started >= status.since):
        return started
    return status.since
