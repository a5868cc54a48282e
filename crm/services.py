"""Writes of the CRM data itself. A chat's link to a contact is chat state: the engine writes it."""

from contactcentre.models import Company
from crm.models import Contact


def contact_create(
    *, company: Company, name: str, email: str = "", phone: str = "", organisation: str = ""
) -> Contact:
    """Create a contact of the company; raises ValidationError for what a person must correct."""
    contact = Contact(
        company=company,
        name=name.strip(),
        email=email.strip(),
        phone=phone.strip(),
        organisation=organisation.strip(),
    )
    contact.full_clean()
    contact.save()
    return contact
