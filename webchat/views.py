"""The agent's inbox and the supervisor's wallboard.

One page whose parts are server-rendered partials of inbox/inbox.html. The agent socket names what changed
and the page re-fetches that partial, so the HTML is rendered here only. Every action calls one engine
function; a refusal is shown to the agent with the engine's status, never as a 500.
"""

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import push_url, reswap, retarget, trigger_client_event

from contactcentre.models import Membership, Presence
from contactcentre.views import agent_required
from crm import selectors as crm_selectors
from crm import services as crm_services
from routing import engine, selectors
from routing.engine import TransitionError
from routing.models import BreakReason, WebchatQueue
from webchat.forms import ContactForm
from webchat.models import HELD_STATES, Chat, ChatState, Classification, ResponseTemplate, Sender
from webchat.templatetags.inbox import customer_left, since, state_label, wait_alert

INBOX = "inbox/inbox.html"
WALLBOARD = "wallboard/wallboard.html"
# Enough history beside a chat; the contact's page has the rest.
HISTORY_SHOWN = 10
WAITING_SHOWN = 50
CONTACT_RESULTS_SHOWN = 8

# ---------------------------------------------------------------------------------------------------------
# Reads


def _inbox_chats(agent: Membership) -> QuerySet[Chat]:
    return (
        Chat.objects.filter(company_id=agent.company_id, agent=agent, state__in=HELD_STATES)
        .select_related("queue")
        .order_by("allocated_at", "pk")
    )


def _unseen_count(agent: Membership) -> int:
    return _inbox_chats(agent).filter(unseen=True).count()


def _url_for(name: str) -> Callable[[object], str]:
    """The URL of `name` for any chat id, at the cost of one reverse() per page rather than one per row."""
    stand_in = str(uuid.UUID(int=0))
    prefix, suffix = reverse(name, args=[stand_in]).split(stand_in)
    return lambda pk: f"{prefix}{pk}{suffix}"


# The inbox and an open queue show dozens of rows, each re-rendered on every change: what a row shows is
# worked out here in Python once, so that the row's template is plain variables, not tags and filters.


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


def _inbox_rows(agent: Membership, now: datetime) -> list[InboxRow]:
    chats = _inbox_chats(agent).only(*ROW_FIELDS)
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


@dataclass(frozen=True)
class WaitingRow:
    pk: uuid.UUID
    name: str
    waited: str
    take_url: str


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


def _waiting_in_queue(aggregate) -> Subquery:
    # A subquery over the queue's queued chats, which the queue-order index serves, rather than a join
    # over every chat the queue ever had: the cost follows the waiting chats, not the history.
    waiting = Chat.objects.filter(queue=OuterRef("pk"), state=ChatState.QUEUED).order_by()
    return Subquery(waiting.values("queue").annotate(value=aggregate).values("value"))


def _with_waiting(queues: QuerySet[WebchatQueue]) -> QuerySet[WebchatQueue]:
    """Queues with how many chats wait in each."""
    return queues.annotate(
        waiting=Coalesce(_waiting_in_queue(Count("pk")), 0, output_field=IntegerField())
    ).order_by("name")


def _queues(agent: Membership) -> QuerySet[WebchatQueue]:
    return _with_waiting(selectors.queues_visible_to(agent))


def _with_oldest(queues: QuerySet[WebchatQueue]) -> QuerySet[WebchatQueue]:
    return queues.annotate(oldest=_waiting_in_queue(Min("queued_at")))


def _agents_chat(agent: Membership, chat_id) -> Chat:
    """A chat the agent holds or held (closed ones stay readable); anyone else's is not found."""
    return get_object_or_404(
        Chat.objects.select_related("queue", "contact", "classification"),
        pk=chat_id,
        company_id=agent.company_id,
        agent=agent,
    )


def _offered_on(model, chat: Chat) -> QuerySet:
    """Templates or classifications of the chat's company offered on its queue (none listed: on all)."""
    return (
        model.objects.filter(company_id=chat.company_id)
        .filter(Q(queues=None) | Q(queues=chat.queue_id))
        .distinct()
    )


def _transcript_context(agent: Membership, chat: Chat) -> dict:
    messages = list(chat.messages.order_by("seq"))
    waiting_seq = None
    if chat.customer_waiting_since is not None:
        waiting_seq = next((m.seq for m in reversed(messages) if m.sender == Sender.CUSTOMER), None)
    return {
        "agent": agent,
        "chat": chat,
        "messages": messages,
        "waiting_seq": waiting_seq,
        "now": timezone.now(),
    }


def _chat_context(agent: Membership, chat: Chat | None, queues: list[WebchatQueue] | None = None) -> dict:
    """The workspace; `queues`, the agent's visible queues when the page has read them already."""
    if chat is None:
        return {"chat": None}
    if queues is None:
        transfer_queues = selectors.queues_visible_to(agent).exclude(pk=chat.queue_id).order_by("name")
    else:
        transfer_queues = [queue for queue in queues if queue.pk != chat.queue_id]
    history = []
    if chat.contact_id:
        visible = crm_selectors.contact_interactions(contact=chat.contact, viewer=agent)
        history = visible.exclude(chat=chat)[:HISTORY_SHOWN]
    return {
        **_transcript_context(agent, chat),
        "templates": _offered_on(ResponseTemplate, chat).order_by("title"),
        "classifications": _offered_on(Classification, chat).order_by("code"),
        "transfer_queues": transfer_queues,
        "extensions_left": max(0, chat.queue.wrapup_extensions - chat.wrapup_extensions_used),
        "history": history,
        "max_message_chars": settings.WEBCHAT_MAX_MESSAGE_CHARS,
    }


def _status_context(agent: Membership, status: selectors.AgentStatus | None = None) -> dict:
    return {
        "agent": agent,
        "status": status or selectors.agent_status(agent),
        "break_reasons": BreakReason.objects.filter(company_id=agent.company_id),
        "now": timezone.now(),
    }


def _call_context(agent: Membership) -> dict:
    return {"call": selectors.current_call(agent), "now": timezone.now()}


def _page(request: HttpRequest, chat: Chat | None = None, *, notice: str = "", status: int = 200):
    agent = request.agent
    now = timezone.now()
    agent_status, call = selectors.agent_status_and_call(agent)
    queues = list(_queues(agent))
    inbox = _inbox_rows(agent, now)
    context = {
        **_status_context(agent, agent_status),
        **_chat_context(agent, chat, queues),
        "call": call,
        "now": now,
        "unseen": sum(row.unseen for row in inbox),
        "inbox": inbox,
        "queues": queues,
        "notice": notice,
        "heartbeat_seconds": settings.AGENT_HEARTBEAT_SECONDS,
    }
    return render(request, INBOX, context, status=status)


# ---------------------------------------------------------------------------------------------------------
# Responses


def _refused(request: HttpRequest, refusal: TransitionError) -> HttpResponse:
    """Show the engine's refusal above the workspace, with its status."""
    if not request.htmx:
        return _page(request, notice=refusal.message, status=refusal.status)
    response = render(request, f"{INBOX}#notice", {"notice": refusal.message}, status=refusal.status)
    return reswap(retarget(response, "#notice"), "innerHTML")


def shows_refusals(view: Callable) -> Callable:
    """Turn a refused transition into the message the agent sees, with the engine's status."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except TransitionError as refusal:
            return _refused(request, refusal)

    return wrapper


def _chat_partial(request: HttpRequest, chat_id) -> HttpResponse:
    """The workspace after an action: the chat if the agent still holds it, else the empty workspace."""
    agent = request.agent
    chat = (
        Chat.objects.select_related("queue", "contact", "classification")
        .filter(pk=chat_id, company_id=agent.company_id, agent=agent)
        .first()
    )
    if not request.htmx:
        return redirect("inbox_chat", chat.pk) if chat else redirect("inbox")
    response = render(request, f"{INBOX}#chat", _chat_context(agent, chat))
    return push_url(response, reverse("inbox_chat", args=[chat.pk]) if chat else reverse("inbox"))


def for_held_chat(view: Callable) -> Callable:
    """A view of one of the agent's chats. Once the chat has left them (put back, transferred, released
    on logout in another tab), a part re-fetched by htmx gets the empty workspace saying so: still a 404."""

    @wraps(view)
    def wrapper(request: HttpRequest, chat_id, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, chat_id, *args, **kwargs)
        except Http404:
            if not request.htmx:
                raise
        context = {"chat": None, "gone": "This chat is no longer in your inbox."}
        response = render(request, f"{INBOX}#chat", context, status=404)
        return push_url(reswap(retarget(response, "#chat"), "outerHTML"), reverse("inbox"))

    return wrapper


def _posted_id(request: HttpRequest, name: str) -> int | None:
    """A chosen id from the form: None when nothing was chosen; a malformed one is refused."""
    value = request.POST.get(name, "")
    if value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise TransitionError("invalid", "That choice is not valid.", status=400) from None


# ---------------------------------------------------------------------------------------------------------
# The page and its partials


@require_GET
@agent_required
def inbox(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require_GET
@agent_required
@for_held_chat
def open_chat(request: HttpRequest, chat_id) -> HttpResponse:
    """The chat in the workspace; opening it clears its bell."""
    agent = request.agent
    chat = _agents_chat(agent, chat_id)
    if chat.unseen:
        engine.chat_mark_seen(agent=agent, chat_id=chat.pk)
        chat.unseen = False
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, f"{INBOX}#chat", _chat_context(agent, chat))
    return _page(request, chat)


@require_GET
@agent_required
@for_held_chat
def transcript(request: HttpRequest, chat_id) -> HttpResponse:
    chat = _agents_chat(request.agent, chat_id)
    return render(request, f"{INBOX}#transcript", _transcript_context(request.agent, chat))


@require_GET
@agent_required
def status(request: HttpRequest) -> HttpResponse:
    return render(request, f"{INBOX}#status", _status_context(request.agent))


@require_POST
@agent_required
@shows_refusals
def presence(request: HttpRequest) -> HttpResponse:
    """Set Available, or Break with an optional reason: the choice is "available", "break" or "break:<id>"."""
    choice, _, reason = request.POST.get("presence", "").partition(":")
    if reason and not reason.isdigit():
        raise TransitionError("invalid", "That choice is not valid.", status=400)
    agent = engine.agent_set_presence(
        agent=request.agent, presence=choice, break_reason_id=int(reason) if reason else None
    )
    if not request.htmx:
        return redirect("inbox")
    return render(request, f"{INBOX}#status", _status_context(agent))


@require_GET
@agent_required
def bell(request: HttpRequest) -> HttpResponse:
    return render(request, f"{INBOX}#bell", {"unseen": _unseen_count(request.agent)})


@require_GET
@agent_required
def inbox_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    context = {"inbox": _inbox_rows(request.agent, now), "now": now}
    return render(request, f"{INBOX}#inbox-list", context)


@require_GET
@agent_required
def queue_list(request: HttpRequest) -> HttpResponse:
    """The queues the agent sees, re-fetched when their profile or the queues' settings changed."""
    return render(request, f"{INBOX}#queue-list", {"queues": _queues(request.agent), "now": timezone.now()})


@require_GET
@agent_required
def queue_row(request: HttpRequest, queue_id: int) -> HttpResponse:
    """One queue's row: its counter and, opened, its waiting chats when the queue lets agents see them."""
    queue = get_object_or_404(_queues(request.agent), pk=queue_id)
    open_ = request.GET.get("open") == "1"
    now = timezone.now()
    waiting = []
    if open_ and queue.agents_view_queue_status:
        chats = selectors.waiting_chats(queue.pk).only("pk", "customer_name", "queued_at")
        waiting = _waiting_rows(chats[:WAITING_SHOWN], now)
    context = {"queue": queue, "open": open_, "waiting": waiting, "now": now}
    return render(request, f"{INBOX}#queue-row", context)


# ---------------------------------------------------------------------------------------------------------
# Taking chats


@require_POST
@agent_required
@shows_refusals
def take(request: HttpRequest, chat_id) -> HttpResponse:
    engine.chat_take(agent=request.agent, chat_id=chat_id)
    return _chat_partial(request, chat_id)


@require_POST
@agent_required
@shows_refusals
def take_next(request: HttpRequest, queue_id: int) -> HttpResponse:
    """Take the chat at the front of a queue whose waiting list agents may not see."""
    queue = get_object_or_404(selectors.queues_visible_to(request.agent), pk=queue_id)
    chat_id = selectors.waiting_chats(queue.pk).values_list("pk", flat=True).first()
    if chat_id is None:
        raise TransitionError("queue_empty", "No chats are waiting in this queue.")
    engine.chat_take(agent=request.agent, chat_id=chat_id)
    return _chat_partial(request, chat_id)


# ---------------------------------------------------------------------------------------------------------
# Working a chat


@require_POST
@agent_required
@shows_refusals
def activate(request: HttpRequest, chat_id) -> HttpResponse:
    engine.chat_activate(agent=request.agent, chat_id=chat_id)
    return _chat_partial(request, chat_id)


@require_POST
@agent_required
@shows_refusals
def park(request: HttpRequest, chat_id) -> HttpResponse:
    engine.chat_park(agent=request.agent, chat_id=chat_id)
    return _chat_partial(request, chat_id)


@require_POST
@agent_required
@shows_refusals
def put_back(request: HttpRequest, chat_id) -> HttpResponse:
    engine.chat_put_back(agent=request.agent, chat_id=chat_id)
    return _chat_partial(request, chat_id)


@require_POST
@agent_required
@shows_refusals
def transfer(request: HttpRequest, chat_id) -> HttpResponse:
    queue_id = _posted_id(request, "queue")
    if queue_id is None:
        raise TransitionError("invalid", "Choose a queue to transfer to.", status=400)
    engine.chat_transfer(agent=request.agent, chat_id=chat_id, queue_id=queue_id)
    return _chat_partial(request, chat_id)


@require_POST
@agent_required
@shows_refusals
def end(request: HttpRequest, chat_id) -> HttpResponse:
    engine.chat_end(agent=request.agent, chat_id=chat_id)
    return _chat_partial(request, chat_id)


@require_POST
@agent_required
@shows_refusals
def send(request: HttpRequest, chat_id) -> HttpResponse:
    """Post a reply without the socket (it is down); the client id makes a resend harmless."""
    text = request.POST.get("text", "").strip()
    client_id = request.POST.get("client_id", "")
    if not text or not client_id or len(client_id) > 64:
        raise TransitionError("invalid", "Write a message first.", status=400)
    if len(text) > settings.WEBCHAT_MAX_MESSAGE_CHARS:
        limit = settings.WEBCHAT_MAX_MESSAGE_CHARS
        raise TransitionError("too_long", f"Messages are limited to {limit} characters.", status=413)
    engine.message_post_agent(agent=request.agent, chat_id=chat_id, client_id=client_id, text=text)
    chat = _agents_chat(request.agent, chat_id)
    return render(request, f"{INBOX}#transcript", _transcript_context(request.agent, chat), status=201)


@require_GET
@agent_required
@for_held_chat
@shows_refusals
def fill_template(request: HttpRequest, chat_id) -> HttpResponse:
    """A response template with its placeholders filled, handed to the page to put in the message box."""
    chat = _agents_chat(request.agent, chat_id)
    template_id = request.GET.get("template", "")
    offered = _offered_on(ResponseTemplate, chat)
    template = offered.filter(pk=int(template_id)).first() if template_id.isdigit() else None
    if template is None:
        raise TransitionError("unknown_template", "This template is not offered on this queue.", status=404)
    values = {
        "{customer_name}": chat.customer_name or (chat.contact.name if chat.contact else ""),
        "{agent_name}": request.agent.name,
        "{queue_name}": chat.queue.name,
        "{company_name}": request.agent.company.name,
    }
    text = template.text
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    response = HttpResponse(status=204)
    return trigger_client_event(response, "template-filled", {"chat_id": str(chat.pk), "text": text})


def _classification(request: HttpRequest) -> dict:
    """A chosen classification wins over free text; free text counts when nothing is chosen."""
    classification_id = _posted_id(request, "classification")
    if classification_id is not None:
        return {"classification_id": classification_id}
    if "classification_text" in request.POST:
        return {"classification_text": request.POST["classification_text"]}
    return {}


@require_POST
@agent_required
@shows_refusals
def details(request: HttpRequest, chat_id) -> HttpResponse:
    """Record notes or a classification (one from the list, or free text) as the agent goes."""
    engine.chat_record_details(
        agent=request.agent, chat_id=chat_id, notes=request.POST.get("notes"), **_classification(request)
    )
    return HttpResponse(status=204) if request.htmx else redirect("inbox_chat", chat_id)


@require_POST
@agent_required
@shows_refusals
def extend(request: HttpRequest, chat_id) -> HttpResponse:
    engine.wrapup_extend(agent=request.agent, chat_id=chat_id)
    return _chat_partial(request, chat_id)


@require_POST
@agent_required
@shows_refusals
def complete(request: HttpRequest, chat_id) -> HttpResponse:
    engine.wrapup_complete(
        agent=request.agent, chat_id=chat_id, notes=request.POST.get("notes"), **_classification(request)
    )
    return _chat_partial(request, chat_id)


@require_POST
@agent_required
@shows_refusals
def flag_abusive(request: HttpRequest, chat_id) -> HttpResponse:
    engine.chat_flag_abusive(agent=request.agent, chat_id=chat_id, abusive=request.POST.get("abusive") != "0")
    return _chat_partial(request, chat_id)


# ---------------------------------------------------------------------------------------------------------
# Identifying the customer


@require_GET
@agent_required
@for_held_chat
def find_contact(request: HttpRequest, chat_id) -> HttpResponse:
    """The Assign contact panel, or with ?q= only its results as the agent types."""
    chat = _agents_chat(request.agent, chat_id)
    query = request.GET.get("q", "")
    contacts = crm_selectors.contact_search(company_id=request.agent.company_id, query=query)
    context = {"chat": chat, "contacts": contacts[:CONTACT_RESULTS_SHOWN], "query": query}
    if "q" in request.GET:
        return render(request, f"{INBOX}#contact-results", context)
    return render(request, f"{INBOX}#assign", {**context, "form": ContactForm()})


@require_POST
@agent_required
@shows_refusals
def assign_contact(request: HttpRequest, chat_id) -> HttpResponse:
    engine.chat_assign_contact(
        agent=request.agent, chat_id=chat_id, contact_id=_posted_id(request, "contact")
    )
    return _chat_partial(request, chat_id)


@require_POST
@agent_required
@shows_refusals
def create_contact(request: HttpRequest, chat_id) -> HttpResponse:
    """Create a contact from what the customer said and assign it to the chat."""
    chat = _agents_chat(request.agent, chat_id)
    form = ContactForm(request.POST)
    if form.is_valid():
        try:
            contact = crm_services.contact_create(company=request.agent.company, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            engine.chat_assign_contact(agent=request.agent, chat_id=chat.pk, contact_id=contact.pk)
            # The form sits in the contact panel; the result is the whole workspace.
            return reswap(retarget(_chat_partial(request, chat.pk), "#chat"), "outerHTML")
    context = {"chat": chat, "contacts": [], "form": form}
    return render(request, f"{INBOX}#assign", context, status=400)


# ---------------------------------------------------------------------------------------------------------
# Voice calls: the banner above everything while a call rings, is connected or in wrap-up


@require_GET
@agent_required
def call_banner(request: HttpRequest) -> HttpResponse:
    return render(request, f"{INBOX}#call", _call_context(request.agent))


def _call_partial(request: HttpRequest) -> HttpResponse:
    if not request.htmx:
        return redirect("inbox")
    return render(request, f"{INBOX}#call", _call_context(request.agent))


@require_POST
@agent_required
@shows_refusals
def call_answer(request: HttpRequest, call_id: int) -> HttpResponse:
    engine.call_answer(agent=request.agent, call_id=call_id)
    return _call_partial(request)


@require_POST
@agent_required
@shows_refusals
def call_hang_up(request: HttpRequest, call_id: int) -> HttpResponse:
    engine.call_hang_up(agent=request.agent, call_id=call_id)
    return _call_partial(request)


@require_POST
@agent_required
@shows_refusals
def call_complete(request: HttpRequest, call_id: int) -> HttpResponse:
    engine.call_wrapup_complete(agent=request.agent, call_id=call_id, notes=request.POST.get("notes"))
    return _call_partial(request)


# ---------------------------------------------------------------------------------------------------------
# The wallboard


def _supervisor(request: HttpRequest) -> Membership:
    if not request.agent.is_supervisor:
        raise PermissionDenied("The wallboard is for supervisors.")
    return request.agent


def _board_context(supervisor: Membership) -> dict:
    company_id = supervisor.company_id
    held = (
        Chat.objects.filter(agent=OuterRef("pk"), state__in=HELD_STATES)
        .order_by()
        .values("agent")
        .annotate(n=Count("pk"))
        .values("n")
    )
    queues = _with_oldest(_with_waiting(WebchatQueue.objects.filter(company_id=company_id, enabled=True)))
    members = (
        Membership.objects.filter(company_id=company_id)
        .select_related("user", "break_reason")
        .annotate(held=Coalesce(Subquery(held), 0, output_field=IntegerField()))
    )
    members = list(members)
    statuses = selectors.agent_statuses(members)
    agents = [(member, statuses[member.pk]) for member in members]
    # Logged-in people first: the board is about who is working now.
    agents.sort(key=lambda row: (row[0].presence == Presence.UNAVAILABLE, row[0].name.lower()))
    return {"queues": queues, "agents": agents, "now": timezone.now()}


@require_GET
@agent_required
def wallboard(request: HttpRequest) -> HttpResponse:
    supervisor = _supervisor(request)
    context = {
        **_board_context(supervisor),
        "agent": supervisor,
        "heartbeat_seconds": settings.AGENT_HEARTBEAT_SECONDS,
    }
    return render(request, WALLBOARD, context)


@require_GET
@agent_required
def wallboard_board(request: HttpRequest) -> HttpResponse:
    return render(request, f"{WALLBOARD}#board", _board_context(_supervisor(request)))
