"""Writes of the CRM data itself. A chat's link to a contact is chat state: the engine writes it.

The interaction a finished chat or call leaves (`interaction_record_chat`, `interaction_record_call`) is
built here and written by the engine, inside the transaction that closes the chat or call.

Data protection lives here too: erasing a contact, exporting what the product holds of them, and the
retention period after which transcripts are anonymised. Each keeps the figures (times, durations, queue,
agent, outcome, classification), so that reports count the same after it as before.
"""

import datetime as dt
import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contactcentre import audit
from contactcentre.models import AuditEntry, Company, Membership
from crm.models import Channel, Contact, Interaction
from routing.models import Call, CallState
from runtime import periodic
from webchat.models import Chat, ChatState, Message

logger = logging.getLogger(__name__)

ERASED_NAME = "Erased contact"
REMOVED_TEXT = "(removed)"
# Interactions anonymised per company and tick by the retention job: the job runs every few seconds, so a
# backlog (a retention period set for the first time) is worked off over a few minutes, not in one tick.
RETENTION_BATCH = 200


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


def _seconds_between(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max(0.0, (end - start).total_seconds()), 3)


def interaction_record_chat(*, chat: Chat) -> Interaction:
    """Log a chat the engine has just closed (its state, outcome and closing time set, its row locked): one
    interaction with its times, the queue it arrived in and the one it closed in, its wait (arrival to the
    first answer), handle time (parked time excluded), wrap-up time (parked wrap-up excluded), transfers,
    classification, notes and outcome. docs/reports.md defines each figure."""
    agent = chat.agent
    wrapup_seconds = 0.0
    if chat.wrapup_started_at:
        wrapup_seconds = max(
            0.0, (chat.closed_at - chat.wrapup_started_at).total_seconds() - chat.wrapup_parked_seconds
        )
    return Interaction.objects.create(
        company_id=chat.company_id,
        contact_id=chat.contact_id,
        channel=Channel.WEBCHAT,
        chat=chat,
        queue_name=chat.queue.name,
        webchat_queue_id=chat.queue_id,
        arrival_webchat_queue_id=chat.arrival_queue_id or chat.queue_id,
        wait_seconds=_seconds_between(chat.created_at, chat.answered_at),
        transfers=chat.transfers,
        agent=agent,
        agent_name=agent.name if agent else "",
        customer_name=chat.customer_name,
        opened_at=chat.created_at,
        answered_at=chat.answered_at,
        ended_at=chat.ended_at,
        closed_at=chat.closed_at,
        handle_seconds=round(chat.handle_seconds, 3),
        wrapup_seconds=round(wrapup_seconds, 3),
        classification_id=chat.classification_id,
        classification_text=chat.classification_text,
        notes=chat.notes,
        abusive=chat.abusive,
        outcome=chat.outcome,
    )


def interaction_record_call(*, call: Call, agent: Membership | None) -> Interaction:
    """Log a call the engine has just closed (its state, outcome and closing time set, its row locked, and
    `agent`, the agent it was for, locked): one interaction with its times, its queue (calls are not
    transferred: it arrived and closed there), its wait (arrival to the answer), talk and wrap-up time,
    classification, notes and outcome. A call nobody answered names no agent."""
    handle = (call.ended_at - call.answered_at).total_seconds() if call.answered_at and call.ended_at else 0.0
    wrapup = round((call.closed_at - call.ended_at).total_seconds(), 3) if call.ended_at else 0.0
    return Interaction.objects.create(
        company_id=call.company_id,
        contact_id=call.contact_id,
        channel=Channel.VOICE,
        queue_name=call.queue.name,
        voice_queue_id=call.queue_id,
        arrival_voice_queue_id=call.queue_id,
        wait_seconds=_seconds_between(call.arrived_at, call.answered_at),
        agent=agent if call.answered_at else None,
        agent_name=agent.name if agent and call.answered_at else "",
        caller_number=call.caller_number,
        opened_at=call.arrived_at,
        answered_at=call.answered_at,
        ended_at=call.ended_at,
        closed_at=call.closed_at,
        handle_seconds=round(handle, 3),
        wrapup_seconds=wrapup,
        classification_id=call.classification_id,
        notes=call.notes,
        outcome=call.outcome,
    )


def contact_erase(*, company_id: int, contact_id: int, actor=None) -> Contact:
    """Erase a contact: their personal details, and the transcripts, notes and customer names and numbers
    of every chat and call of theirs; the figures stay. Audited.

    Locks the contact (FOR UPDATE, which also holds off the engine linking a chat or call to it meanwhile),
    then the interactions, chats and calls it anonymises. Refused (ValidationError) while a chat or call of
    the contact is still open: its transcript is still being written.
    """
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact_id, company_id=company_id)
        open_chats = Chat.objects.filter(contact=contact).exclude(state=ChatState.CLOSED)
        open_calls = Call.objects.filter(contact=contact).exclude(state=CallState.CLOSED)
        if open_chats.exists() or open_calls.exists():
            raise ValidationError(
                f"{contact.name} has a chat or call in progress: erase them once it has ended."
            )
        interactions = list(
            Interaction.objects.select_for_update(no_key=True).filter(contact=contact, company_id=company_id)
        )
        for interaction in interactions:
            _anonymise(interaction)
        # Chats and calls linked to the contact that were never logged as an interaction.
        chat_ids = set(Chat.objects.filter(contact=contact).values_list("pk", flat=True))
        _anonymise_chats(chat_ids)
        calls = Call.objects.filter(contact=contact).update(caller_number="", notes="")
        contact.name = ERASED_NAME
        contact.email = contact.phone = contact.organisation = contact.notes = ""
        contact.save(update_fields=["name", "email", "phone", "organisation", "notes"])
        # The log named the contact when their data was exported: it keeps that it happened, not the name.
        AuditEntry.objects.get_for_object(contact).update(object_repr=ERASED_NAME)
        audit.record(
            AuditEntry.Action.CONTACT_ERASED,
            obj=contact,
            company_id=company_id,
            actor=actor,
            additional_data={"interactions": len(interactions), "calls": calls},
        )
    return contact


def contact_export(*, company_id: int, contact_id: int, actor=None) -> dict:
    """Everything the product holds of a contact, as JSON-ready data: their details, their interactions
    and the transcripts of their chats. Audited."""
    contact = Contact.objects.get(pk=contact_id, company_id=company_id)
    interactions = Interaction.objects.filter(contact=contact, company_id=company_id).select_related(
        "classification"
    )
    messages: dict = {}
    for message in Message.objects.filter(chat__interaction__in=interactions).order_by("chat_id", "seq"):
        messages.setdefault(message.chat_id, []).append(
            {
                "seq": message.seq,
                "sender": message.sender,
                "agent_name": message.agent_name,
                "text": message.text,
                "sent_at": message.sent_at.isoformat(),
            }
        )
    data = {
        "contact": {
            "id": contact.pk,
            "name": contact.name,
            "email": contact.email,
            "phone": contact.phone,
            "organisation": contact.organisation,
            "notes": contact.notes,
            "created_at": contact.created_at.isoformat(),
        },
        "interactions": [
            {
                "channel": interaction.channel,
                "queue": interaction.queue_name,
                "agent": interaction.agent_name,
                "customer_name": interaction.customer_name,
                "caller_number": interaction.caller_number,
                "opened_at": interaction.opened_at.isoformat(),
                "answered_at": _iso(interaction.answered_at),
                "ended_at": _iso(interaction.ended_at),
                "closed_at": interaction.closed_at.isoformat(),
                "outcome": interaction.outcome,
                "classification": interaction.classification_display,
                "notes": interaction.notes,
                "transcript": messages.get(interaction.chat_id, []),
            }
            for interaction in interactions.order_by("closed_at")
        ],
    }
    audit.record(
        AuditEntry.Action.CONTACT_EXPORTED,
        obj=contact,
        company_id=company_id,
        actor=actor,
        additional_data={"interactions": len(data["interactions"])},
    )
    return data


def transcripts_expire(*, now: dt.datetime | None = None) -> int:
    """The retention job: anonymise the closed interactions of each company older than its retention
    period, a batch per company and tick, each company and each interaction on its own
    (runtime.periodic: one that fails is logged and skipped). Returns how many were anonymised."""
    now = now or timezone.now()
    companies = Company.objects.filter(transcript_retention_days__isnull=False).only(
        "name", "transcript_retention_days"
    )
    anonymised = []

    def expire(company: Company) -> bool:
        anonymised.append(_expire_company_transcripts(company, now=now))
        return True

    periodic.each("transcripts_expire", list(companies), expire, log=logger)
    return sum(anonymised)


def _expire_company_transcripts(company: Company, *, now: dt.datetime) -> int:
    days = company.transcript_retention_days
    due = list(
        Interaction.objects.filter(
            company_id=company.pk,
            anonymised_at__isnull=True,
            closed_at__lt=now - dt.timedelta(days=days),
        )
        .order_by("closed_at")
        .values_list("pk", flat=True)[:RETENTION_BATCH]
    )
    done = periodic.each(
        "transcripts_expire",
        due,
        lambda interaction_id: interaction_anonymise(interaction_id=interaction_id, now=now),
        log=logger,
    )
    if done:
        audit.record(
            AuditEntry.Action.TRANSCRIPTS_EXPIRED,
            obj=company,
            company_id=company.pk,
            additional_data={"interactions": done, "retention_days": days},
        )
    return done


def interaction_anonymise(*, interaction_id: int, now: dt.datetime | None = None) -> bool:
    """Remove one closed interaction's transcript, notes and customer details (its chat's and call's too),
    keeping its figures. Locks the interaction, skipping it if another transaction holds it. Returns whether
    it did anything."""
    with transaction.atomic():
        interaction = (
            Interaction.objects.select_for_update(no_key=True, skip_locked=True)
            .filter(pk=interaction_id, anonymised_at__isnull=True)
            .first()
        )
        if interaction is None:
            return False
        _anonymise(interaction, now=now)
    return True


def _anonymise(interaction: Interaction, *, now: dt.datetime | None = None) -> None:
    if interaction.channel == Channel.WEBCHAT and interaction.chat_id:
        _anonymise_chats({interaction.chat_id})
    elif interaction.channel == Channel.VOICE and interaction.caller_number:
        # A call's interaction names no call: it is the call of that number that arrived when it opened.
        Call.objects.filter(
            company_id=interaction.company_id,
            state=CallState.CLOSED,
            caller_number=interaction.caller_number,
            arrived_at=interaction.opened_at,
        ).update(caller_number="", notes="")
    interaction.customer_name = ""
    interaction.caller_number = ""
    interaction.notes = ""
    interaction.anonymised_at = now or timezone.now()
    interaction.save(update_fields=["customer_name", "caller_number", "notes", "anonymised_at"])


def _anonymise_chats(chat_ids: set) -> None:
    """Blank the customer's name, visitor id and notes of closed chats, and every message's text; the
    messages stay, with their senders and times, which response-time figures read."""
    if not chat_ids:
        return
    closed = Chat.objects.filter(pk__in=chat_ids, state=ChatState.CLOSED)
    closed.update(customer_name="", visitor_id="", notes="")
    Message.objects.filter(Q(chat__in=closed) & ~Q(text=REMOVED_TEXT)).update(text=REMOVED_TEXT)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None
