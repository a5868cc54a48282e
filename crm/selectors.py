"""Reads of the CRM: finding contacts and their history, always within one company.

Contacts are the company's: every member reads them. Interactions (and their transcripts) follow who may see
the work they record, as chats do: an administrator reads every interaction of the company; an agent or a
supervisor those they handled, those of the webchat queues their Webchat Queues profile allows (disabled
queues included: the profile still names them) and those of the voice queues they answer. An interaction
whose queue was deleted is left to the one who handled it and the administrators.
"""

from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Replace

from contactcentre.models import Membership
from crm.models import Channel, Contact, Interaction
from webchat.models import Message


def _digits_only(field: str):
    """The phone number without the spaces, dashes and brackets people type in different places."""
    expression = field
    for separator in ("+", " ", "-", "(", ")", "."):
        expression = Replace(expression, Value(separator), Value(""))
    return expression


def contact_search(*, company_id: int, query: str) -> QuerySet[Contact]:
    """The company's contacts whose name, email or phone matches the query; all of them for no query."""
    contacts = Contact.objects.filter(company_id=company_id)
    # No stored text holds NUL (PostgreSQL refuses it in a query too): it cannot narrow the search.
    query = query.replace("\x00", "").strip()
    if not query:
        return contacts
    matches = Q(name__icontains=query) | Q(email__icontains=query) | Q(organisation__icontains=query)
    # A national number's leading 0 is dropped in its international form (020 7946… is +44 20 7946…).
    digits = "".join(c for c in query if c.isdigit()).lstrip("0")
    if len(digits) >= 3:
        contacts = contacts.annotate(phone_digits=_digits_only("phone"))
        matches |= Q(phone_digits__contains=digits)
    return contacts.filter(matches)


def interactions_visible_to(viewer: Membership) -> QuerySet[Interaction]:
    """The interactions of the viewer's company that the viewer may read (see the module's docstring)."""
    interactions = Interaction.objects.filter(company_id=viewer.company_id)
    if viewer.is_administrator:
        return interactions
    allowed = Q(agent_id=viewer.pk) | Q(voice_queue__in=viewer.voice_queues.values("pk"))
    profile = viewer.queue_profile
    if profile is not None and profile.all_queues:
        allowed |= Q(channel=Channel.WEBCHAT, webchat_queue__isnull=False)
    elif profile is not None:
        allowed |= Q(webchat_queue__in=profile.queues.values("pk"))
    return interactions.filter(allowed)


def contact_interactions(*, contact: Contact, viewer: Membership) -> QuerySet[Interaction]:
    """The contact's interactions that the viewer may read, newest first, with what their history rows
    show."""
    return interactions_visible_to(viewer).filter(contact_id=contact.pk).select_related("classification")


def interaction_messages(*, interaction: Interaction) -> QuerySet[Message]:
    """The transcript of a webchat interaction: its chat's messages in order."""
    if interaction.chat_id is None:
        return Message.objects.none()
    return Message.objects.filter(chat_id=interaction.chat_id).order_by("seq")
