"""The agent's inbox and the supervisor's wallboard.

One page whose parts are server-rendered partials of inbox/inbox.html. The agent socket names what changed
and the page re-fetches that partial, so the HTML is rendered here only. What a part shows is read by
webchat/selectors.py; every action is a POST that calls one engine function, and a refusal is shown to
the agent with the engine's status, never as a 500.
"""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import push_url, reswap, retarget, trigger_client_event

from contactcentre.models import Membership
from contactcentre.views import AgentRequest, agent_required
from crm import selectors as crm_selectors
from crm import services as crm_services
from reports import alerts as reports_alerts
from routing import engine
from routing.engine import TransitionError
from webchat import selectors
from webchat.forms import ContactForm
from webchat.models import Chat

INBOX = "inbox/inbox.html"
WALLBOARD = "wallboard/wallboard.html"


def _page(request: AgentRequest, chat: Chat | None = None, *, notice: str = "", status: int = 200):
    context = {
        **selectors.inbox_page_get(agent=request.agent, chat=chat),
        "notice": notice,
        "heartbeat_seconds": settings.AGENT_HEARTBEAT_SECONDS,
    }
    return render(request, INBOX, context, status=status)


# ---------------------------------------------------------------------------------------------------------
# Responses


def _refused(request: AgentRequest, refusal: TransitionError) -> HttpResponse:
    """Show the engine's refusal above the workspace, with its status."""
    if not request.htmx:
        return _page(request, notice=refusal.message, status=refusal.status)
    response = render(request, f"{INBOX}#notice", {"notice": refusal.message}, status=refusal.status)
    return reswap(retarget(response, "#notice"), "innerHTML")


def shows_refusals(view: Callable) -> Callable:
    """Turn a refused transition into the message the agent sees, with the engine's status."""

    @wraps(view)
    def wrapper(request: AgentRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except TransitionError as refusal:
            return _refused(request, refusal)

    return wrapper


def _chat_partial(request: AgentRequest, chat_id) -> HttpResponse:
    """The workspace after an action: the chat if the agent still holds it, else the empty workspace."""
    agent = request.agent
    chat = selectors.chat_find(agent=agent, chat_id=chat_id)
    if not request.htmx:
        return redirect("inbox_chat", chat.pk) if chat else redirect("inbox")
    response = render(request, f"{INBOX}#chat", selectors.workspace_get(agent=agent, chat=chat))
    return push_url(response, reverse("inbox_chat", args=[chat.pk]) if chat else reverse("inbox"))


def for_held_chat(view: Callable) -> Callable:
    """A view of one of the agent's chats. Once the chat has left them (put back, transferred, released
    on logout in another tab), a part re-fetched by htmx gets the empty workspace saying so: still a 404."""

    @wraps(view)
    def wrapper(request: AgentRequest, chat_id, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, chat_id, *args, **kwargs)
        except Http404:
            if not request.htmx:
                raise
        context = {"chat": None, "gone": "This chat is no longer in your inbox."}
        response = render(request, f"{INBOX}#chat", context, status=404)
        return push_url(reswap(retarget(response, "#chat"), "outerHTML"), reverse("inbox"))

    return wrapper


def _posted_id(request: AgentRequest, name: str) -> int | None:
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
def inbox(request: AgentRequest) -> HttpResponse:
    return _page(request)


@require_GET
@agent_required
@for_held_chat
def open_chat(request: AgentRequest, chat_id) -> HttpResponse:
    """The chat in the workspace. A chat not yet seen asks, once shown, to be marked seen (`mark_seen`)."""
    chat = selectors.chat_get(agent=request.agent, chat_id=chat_id)
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, f"{INBOX}#chat", selectors.workspace_get(agent=request.agent, chat=chat))
    return _page(request, chat)


@require_POST
@agent_required
@shows_refusals
def mark_seen(request: AgentRequest, chat_id) -> HttpResponse:
    """The agent has the chat on screen: its bell goes (the inbox hears of it through the socket)."""
    engine.chat_mark_seen(agent=request.agent, chat_id=chat_id)
    return HttpResponse(status=204) if request.htmx else redirect("inbox_chat", chat_id)


@require_GET
@agent_required
@for_held_chat
@shows_refusals
def transcript(request: AgentRequest, chat_id) -> HttpResponse:
    """The conversation; with ?after=<seq>, only the messages after that one, for the page to append."""
    chat = selectors.chat_get(agent=request.agent, chat_id=chat_id)
    after = request.GET.get("after")
    if after is None:
        return render(
            request, f"{INBOX}#transcript", selectors.transcript_get(agent=request.agent, chat=chat)
        )
    if not (after.isascii() and after.isdigit() and len(after) <= 9):
        raise TransitionError("invalid", "That message number is not valid.", status=400)
    context = selectors.transcript_get(agent=request.agent, chat=chat, after_seq=int(after))
    return render(request, f"{INBOX}#transcript-tail", context)


@require_GET
@agent_required
def status(request: AgentRequest) -> HttpResponse:
    return render(request, f"{INBOX}#status", selectors.status_get(agent=request.agent))


@require_POST
@agent_required
@shows_refusals
def presence(request: AgentRequest) -> HttpResponse:
    """Set Available, or Break with an optional reason: the choice is "available", "break" or "break:<id>"."""
    choice, _, reason = request.POST.get("presence", "").partition(":")
    if reason and not reason.isdigit():
        raise TransitionError("invalid", "That choice is not valid.", status=400)
    agent = engine.agent_set_presence(
        agent=request.agent, presence=choice, break_reason_id=int(reason) if reason else None
    )
    if not request.htmx:
        return redirect("inbox")
    return render(request, f"{INBOX}#status", selectors.status_get(agent=agent))


@require_GET
@agent_required
def bell(request: AgentRequest) -> HttpResponse:
    return render(request, f"{INBOX}#bell", {"unseen": selectors.inbox_unseen_count(agent=request.agent)})


@require_GET
@agent_required
def inbox_list(request: AgentRequest) -> HttpResponse:
    now = timezone.now()
    context = {"inbox": selectors.inbox_list(agent=request.agent, now=now), "now": now}
    return render(request, f"{INBOX}#inbox-list", context)


@require_GET
@agent_required
def queue_list(request: AgentRequest) -> HttpResponse:
    """The queues the agent sees, re-fetched when their profile or the queues' settings changed."""
    return render(
        request,
        f"{INBOX}#queue-list",
        {"queues": selectors.queue_list(agent=request.agent), "now": timezone.now()},
    )


@require_GET
@agent_required
def queue_row(request: AgentRequest, queue_id: int) -> HttpResponse:
    """One queue's row: its counter and, opened, its waiting chats when the queue lets agents see them."""
    queue = selectors.queue_get(agent=request.agent, queue_id=queue_id)
    open_ = request.GET.get("open") == "1"
    now = timezone.now()
    waiting = selectors.queue_waiting_list(queue=queue, now=now) if open_ else []
    context = {"queue": queue, "open": open_, "waiting": waiting, "now": now}
    return render(request, f"{INBOX}#queue-row", context)


# ---------------------------------------------------------------------------------------------------------
# Taking chats


@require_POST
@agent_required
@shows_refusals
def take(request: AgentRequest, chat_id) -> HttpResponse:
    engine.chat_take(agent=request.agent, chat_id=chat_id)
    return _chat_partial(request, chat_id)


@require_POST
@agent_required
@shows_refusals
def take_next(request: AgentRequest, queue_id: int) -> HttpResponse:
    """Take the chat at the front of a queue whose waiting list agents may not see."""
    chat_id = selectors.queue_front_chat_id(agent=request.agent, queue_id=queue_id)
    if chat_id is None:
        raise TransitionError("queue_empty", "No chats are waiting in this queue.")
    engine.chat_take(agent=request.agent, chat_id=chat_id)
    return _chat_partial(request, chat_id)


# ---------------------------------------------------------------------------------------------------------
# Working a chat


@require_POST
@agent_required
@shows_refusals
def activate(request: AgentRequest, chat_id) -> HttpResponse:
    engine.chat_activate(agent=request.agent, chat_id=chat_id)
    return _chat_partial(request, chat_id)


@require_POST
@agent_required
@shows_refusals
def park(request: AgentRequest, chat_id) -> HttpResponse:
    engine.chat_park(agent=request.agent, chat_id=chat_id)
    return _chat_partial(request, chat_id)


@require_POST
@agent_required
@shows_refusals
def put_back(request: AgentRequest, chat_id) -> HttpResponse:
    engine.chat_put_back(agent=request.agent, chat_id=chat_id)
    return _chat_partial(request, chat_id)


@require_POST
@agent_required
@shows_refusals
def transfer(request: AgentRequest, chat_id) -> HttpResponse:
    queue_id = _posted_id(request, "queue")
    if queue_id is None:
        raise TransitionError("invalid", "Choose a queue to transfer to.", status=400)
    engine.chat_transfer(agent=request.agent, chat_id=chat_id, queue_id=queue_id)
    return _chat_partial(request, chat_id)


@require_POST
@agent_required
@shows_refusals
def end(request: AgentRequest, chat_id) -> HttpResponse:
    engine.chat_end(agent=request.agent, chat_id=chat_id)
    return _chat_partial(request, chat_id)


@require_POST
@agent_required
@shows_refusals
def send(request: AgentRequest, chat_id) -> HttpResponse:
    """Post a reply without the socket (it is down); the client id makes a resend harmless."""
    text = request.POST.get("text", "").strip()
    client_id = request.POST.get("client_id", "")
    if not text or not client_id or len(client_id) > 64:
        raise TransitionError("invalid", "Write a message first.", status=400)
    if len(text) > settings.WEBCHAT_MAX_MESSAGE_CHARS:
        limit = settings.WEBCHAT_MAX_MESSAGE_CHARS
        raise TransitionError("too_long", f"Messages are limited to {limit} characters.", status=413)
    engine.message_post_agent(agent=request.agent, chat_id=chat_id, client_id=client_id, text=text)
    chat = selectors.chat_get(agent=request.agent, chat_id=chat_id)
    return render(
        request, f"{INBOX}#transcript", selectors.transcript_get(agent=request.agent, chat=chat), status=201
    )


@require_GET
@agent_required
@for_held_chat
@shows_refusals
def fill_template(request: AgentRequest, chat_id) -> HttpResponse:
    """A response template with its placeholders filled, handed to the page to put in the message box."""
    chat = selectors.chat_get(agent=request.agent, chat_id=chat_id)
    text = selectors.response_template_fill(
        agent=request.agent, chat=chat, template_id=request.GET.get("template", "")
    )
    if text is None:
        raise TransitionError("unknown_template", "This template is not offered on this queue.", status=404)
    response = HttpResponse(status=204)
    return trigger_client_event(response, "template-filled", {"chat_id": str(chat.pk), "text": text})


def _classification(request: AgentRequest) -> dict:
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
def details(request: AgentRequest, chat_id) -> HttpResponse:
    """Record notes or a classification (one from the list, or free text) as the agent goes."""
    engine.chat_record_details(
        agent=request.agent, chat_id=chat_id, notes=request.POST.get("notes"), **_classification(request)
    )
    return HttpResponse(status=204) if request.htmx else redirect("inbox_chat", chat_id)


@require_POST
@agent_required
@shows_refusals
def extend(request: AgentRequest, chat_id) -> HttpResponse:
    engine.wrapup_extend(agent=request.agent, chat_id=chat_id)
    return _chat_partial(request, chat_id)


@require_POST
@agent_required
@shows_refusals
def complete(request: AgentRequest, chat_id) -> HttpResponse:
    engine.wrapup_complete(
        agent=request.agent, chat_id=chat_id, notes=request.POST.get("notes"), **_classification(request)
    )
    return _chat_partial(request, chat_id)


@require_POST
@agent_required
@shows_refusals
def flag_abusive(request: AgentRequest, chat_id) -> HttpResponse:
    engine.chat_flag_abusive(agent=request.agent, chat_id=chat_id, abusive=request.POST.get("abusive") != "0")
    return _chat_partial(request, chat_id)


# ---------------------------------------------------------------------------------------------------------
# Identifying the customer


@require_GET
@agent_required
@for_held_chat
def find_contact(request: AgentRequest, chat_id) -> HttpResponse:
    """The Assign contact panel, or with ?q= only its results as the agent types."""
    chat = selectors.chat_get(agent=request.agent, chat_id=chat_id)
    query = request.GET.get("q", "")
    contacts = crm_selectors.contact_search(company_id=request.agent.company_id, query=query)
    context = {"chat": chat, "contacts": contacts[: selectors.CONTACT_RESULTS_SHOWN], "query": query}
    if "q" in request.GET:
        return render(request, f"{INBOX}#contact-results", context)
    return render(request, f"{INBOX}#assign", {**context, "form": ContactForm()})


@require_POST
@agent_required
@shows_refusals
def assign_contact(request: AgentRequest, chat_id) -> HttpResponse:
    engine.chat_assign_contact(
        agent=request.agent, chat_id=chat_id, contact_id=_posted_id(request, "contact")
    )
    return _chat_partial(request, chat_id)


@require_POST
@agent_required
@shows_refusals
def create_contact(request: AgentRequest, chat_id) -> HttpResponse:
    """Create a contact from what the customer said and assign it to the chat."""
    chat = selectors.chat_get(agent=request.agent, chat_id=chat_id)
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
def call_banner(request: AgentRequest) -> HttpResponse:
    return render(request, f"{INBOX}#call", selectors.call_get(agent=request.agent))


def _call_partial(request: AgentRequest) -> HttpResponse:
    if not request.htmx:
        return redirect("inbox")
    return render(request, f"{INBOX}#call", selectors.call_get(agent=request.agent))


@require_POST
@agent_required
@shows_refusals
def call_answer(request: AgentRequest, call_id: int) -> HttpResponse:
    engine.call_answer(agent=request.agent, call_id=call_id)
    return _call_partial(request)


@require_POST
@agent_required
@shows_refusals
def call_hang_up(request: AgentRequest, call_id: int) -> HttpResponse:
    engine.call_hang_up(agent=request.agent, call_id=call_id)
    return _call_partial(request)


@require_POST
@agent_required
@shows_refusals
def call_complete(request: AgentRequest, call_id: int) -> HttpResponse:
    engine.call_wrapup_complete(agent=request.agent, call_id=call_id, notes=request.POST.get("notes"))
    return _call_partial(request)


# ---------------------------------------------------------------------------------------------------------
# The wallboard


def _supervisor(request: AgentRequest) -> Membership:
    if not request.agent.is_supervisor:
        raise PermissionDenied("The wallboard is for supervisors.")
    return request.agent


@require_GET
@agent_required
def wallboard(request: AgentRequest) -> HttpResponse:
    supervisor = _supervisor(request)
    context = {
        **selectors.wallboard_get(company_id=supervisor.company_id),
        "agent": supervisor,
        "heartbeat_seconds": settings.AGENT_HEARTBEAT_SECONDS,
    }
    return render(request, WALLBOARD, context)


@require_GET
@agent_required
def wallboard_board(request: AgentRequest) -> HttpResponse:
    return render(
        request, f"{WALLBOARD}#board", selectors.wallboard_get(company_id=_supervisor(request).company_id)
    )


@require_POST
@agent_required
def wallboard_alerts(request: AgentRequest) -> HttpResponse:
    """The supervisor turns their own service-level alert emails on or off."""
    reports_alerts.alert_emails_set(
        member=_supervisor(request), on=request.POST.get("kpi_alert_emails") == "on"
    )
    return redirect("wallboard")
