"""The contacts pages: search the company's contacts and read each one's history."""

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from contactcentre.views import AgentRequest, agent_required
from crm import selectors
from crm.models import Contact
from webchat.models import Outcome

CONTACTS = "crm/contacts.html"
PER_PAGE = 25


@require_GET
@agent_required
def contacts(request: AgentRequest) -> HttpResponse:
    """Search by name, email or phone; as the agent types, only the results are re-rendered."""
    query = request.GET.get("q", "")
    found = selectors.contact_search(company_id=request.agent.company_id, query=query).order_by("name", "pk")
    page = Paginator(found, PER_PAGE).get_page(request.GET.get("page"))
    context = {"agent": request.agent, "query": query, "page": page}
    template = (
        f"{CONTACTS}#results" if request.htmx and not request.htmx.history_restore_request else CONTACTS
    )
    return render(request, template, context)


@require_GET
@agent_required
def contact(request: AgentRequest, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=contact_id, company_id=request.agent.company_id)
    context = {
        "agent": request.agent,
        "contact": contact,
        "interactions": selectors.contact_interactions(contact=contact, viewer=request.agent),
    }
    return render(request, "crm/contact.html", context)


@require_GET
@agent_required
def transcript(request: AgentRequest, interaction_id: int) -> HttpResponse:
    """An interaction's transcript, fetched into the contact's history when the agent asks for it, or as a
    page of its own when opened by its address (the reports link there); one the agent may not read is not
    found."""
    interaction = get_object_or_404(
        selectors.interactions_visible_to(request.agent).select_related("contact", "classification"),
        pk=interaction_id,
    )
    messages = selectors.interaction_messages(interaction=interaction)
    outcome = (
        Outcome(interaction.outcome).label if interaction.outcome in Outcome.values else interaction.outcome
    )
    context = {"agent": request.agent, "interaction": interaction, "messages": messages, "outcome": outcome}
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "crm/transcript.html", context)
    return render(request, "crm/transcript_page.html", context)
