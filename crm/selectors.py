"""Reads of the CRM: finding contacts and their history, always within one company."""

from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Replace

from crm.models import Contact, Interaction
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


def contact_interactions(*, contact: Contact) -> QuerySet[Interaction]:
    """The contact's interactions, newest first, with what their history rows show."""
    return contact.interactions.filter(company_id=contact.company_id).select_related("classification")


def interaction_messages(*, interaction: Interaction) -> QuerySet[Message]:
    """The transcript of a webchat interaction: its chat's messages in order."""
    if interaction.chat_id is None:
        return Message.objects.none()
    return Message.objects.filter(chat_id=interaction.chat_id).order_by("seq")
