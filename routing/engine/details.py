"""What the agent records on a chat they hold, during the chat or in wrap-up: notes, a classification, the
contact, the abuse flag; and the notes and classification recorded on a call in its wrap-up."""

from typing import TypedDict, Unpack

from django.db import transaction

from contactcentre.models import Membership
from crm.models import Contact
from routing.engine.frames import _tell_agent
from routing.engine.locks import _lock_agents_chat
from routing.engine.rules import CLASSIFICATION_CHARS, EDITABLE_STATES, TransitionError, _require_storable
from routing.events import Outbox
from routing.models import Call
from webchat import protocol
from webchat.models import Chat, Classification


class ChatDetails(TypedDict, total=False):
    """What the agent records of a chat: notes, and a classification, either one of the company's that the
    chat's queue offers (`classification_id`) or the agent's own words (`classification_text`). None, or
    left out: unchanged."""

    notes: str | None
    classification_id: int | None
    classification_text: str | None


def _apply_details(
    item: Chat | Call,
    *,
    notes: str | None = None,
    classification_id: int | None = None,
    classification_text: str | None = None,
) -> None:
    """Record notes and a classification on a chat or a call (whose classification is always one of the
    company's); a classification of the company's replaces the agent's own words, and words replace it."""
    _require_storable(notes, what="notes")
    if classification_text is not None:
        _require_storable(classification_text.strip(), what="classification", limit=CLASSIFICATION_CHARS)
    if notes is not None:
        item.notes = notes
    if classification_id is not None:
        item.classification = _offered_classification(item, classification_id)
        if isinstance(item, Chat):
            item.classification_text = ""
    elif classification_text is not None:
        item.classification_text = classification_text.strip()
        if item.classification_text:
            item.classification = None


def _offered_classification(item: Chat | Call, classification_id) -> Classification:
    """One of the company's classifications; on a chat, one that its queue offers (a classification limited
    to some queues is offered on those alone)."""
    classification = Classification.objects.filter(pk=classification_id, company_id=item.company_id).first()
    if classification is None:
        raise TransitionError("unknown_classification", "No such classification.", status=400)
    if isinstance(item, Chat):
        queue_ids = {q.pk for q in classification.queues.all()}
        if queue_ids and item.queue_id not in queue_ids:
            raise TransitionError(
                "unknown_classification", "This classification is not offered on this queue.", 400
            )
    return classification


def _lock_editable_chat(agent: Membership, chat_id) -> tuple[Membership, Chat]:
    """Lock the agent, then one of their chats that is not closed (EDITABLE_STATES); else `closed`."""
    agent, chat = _lock_agents_chat(agent.pk, chat_id)
    if chat.state not in EDITABLE_STATES:
        raise TransitionError("closed", "This chat is closed.")
    return agent, chat


def chat_record_details(*, agent: Membership, chat_id, **details: Unpack[ChatDetails]) -> Chat:
    """Set notes and/or a classification on a chat the agent holds, during the chat or in wrap-up.

    Locks the agent, then the chat. Refuses a chat that is not the agent's (404), a closed one
    (409 closed), text that cannot be stored (400 invalid) and a classification its queue does not offer
    (400 unknown_classification).
    """
    out = Outbox()
    with transaction.atomic():
        agent, chat = _lock_editable_chat(agent, chat_id)
        _apply_details(chat, **details)
        chat.save(update_fields=["notes", "classification", "classification_text"])
        _tell_agent(out, agent.pk, protocol.chat(chat.pk, chat.state))
        out.send_on_commit()
    return chat


def chat_assign_contact(*, agent: Membership, chat_id, contact_id: int | None) -> Chat:
    """Identify the customer: link the chat to a contact of the company (None unlinks).

    Locks the agent, then the chat. Refuses a chat that is not the agent's (404), a closed one
    (409 closed) and another company's contact (404 unknown_contact).
    """
    out = Outbox()
    with transaction.atomic():
        agent, chat = _lock_editable_chat(agent, chat_id)
        contact = None
        if contact_id is not None:
            contact = Contact.objects.filter(pk=contact_id, company_id=agent.company_id).first()
            if contact is None:
                raise TransitionError("unknown_contact", "No such contact.", status=404)
        chat.contact = contact
        if contact is not None and not chat.customer_name:
            chat.customer_name = contact.name[:80]
        chat.save(update_fields=["contact", "customer_name"])
        _tell_agent(out, agent.pk, protocol.chat(chat.pk, chat.state))
        _tell_agent(out, agent.pk, protocol.inbox())
        out.send_on_commit()
    return chat


def chat_flag_abusive(*, agent: Membership, chat_id, abusive: bool = True) -> Chat:
    """Flag (or unflag) the chat as abusive; the flag goes into the contact's history.

    Locks the agent, then the chat. Refuses a chat that is not the agent's (404) and a closed one
    (409 closed).
    """
    out = Outbox()
    with transaction.atomic():
        agent, chat = _lock_editable_chat(agent, chat_id)
        chat.abusive = abusive
        chat.save(update_fields=["abusive"])
        _tell_agent(out, agent.pk, protocol.chat(chat.pk, chat.state))
        out.send_on_commit()
    return chat
