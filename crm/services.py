"""Writes of the CRM data itself. A chat's link to a contact is chat state: the engine writes it.

The interaction a finished chat or call leaves (`interaction_record_chat`, `interaction_record_call`) is
built here and written by the engine, inside the transaction that closes the chat or call.

Data protection lives here too: erasing a contact, exporting what the product holds of them, and the
retention period after which transcripts are anonymised. Each keeps the figures (times, durations, queue,
agent, outcome, classification), so that reports count the same after it as before.
"""

import bisect
import datetime as dt
import logging
import math

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from contactcentre import audit
from contactcentre.models import AuditEntry, Company, Membership
from crm.models import (
    ROLLUP_MAX_SECONDS,
    WAIT_BANDS,
    Channel,
    Contact,
    Interaction,
    ReportAgentDay,
    ReportClassificationDay,
    ReportQueueHour,
)
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


def _record(**fields) -> Interaction:
    """Write an interaction and add it to the reports' rollup, in one transaction."""
    with transaction.atomic():
        interaction = Interaction.objects.create(**fields)
        report_rollup_add(interaction)
    return interaction


# ---------------------------------------------------------------------------------------------------------
# The reports' rollup (crm.models.ReportQueueHour, ReportClassificationDay, ReportAgentDay;
# docs/reports.md "Rollup"): each interaction is added as it is written, and the rollup can be rebuilt from
# the interactions. Both count exactly as reports/queries.py's raw reads do.

REFUSED, ABANDONED = "refused", "abandoned"


def _rollup_enabled() -> bool:
    """The rollup is PostgreSQL's (arrays, INSERT ... ON CONFLICT): on another database the reports read
    the interactions themselves."""
    return connection.vendor == "postgresql"


def wait_key(wait_seconds: float) -> int:
    """The whole second a wait counts under in `answered_by_wait`: ceil(wait), so that wait ≤ T exactly
    when the key is ≤ T for a whole number T."""
    return max(0, math.ceil(wait_seconds))


def stay_key(opened_at: dt.datetime, ended_at: dt.datetime) -> int:
    """The whole second an abandon counts under in `abandoned_by_stay`: the stay rounded up, to the
    microsecond (`ended_at ≤ opened_at + S seconds` exactly when the key is ≤ S)."""
    microseconds = (ended_at - opened_at) // dt.timedelta(microseconds=1)
    return max(0, -(-microseconds // 1_000_000))


def cumulative(keys: list[int]) -> list[int]:
    """The rollup's array for some keys: element j counts the keys ≤ j, up to the largest key (at most
    ROLLUP_MAX_SECONDS)."""
    if not keys:
        return []
    keys = sorted(keys)
    return [bisect.bisect_right(keys, j) for j in range(min(keys[-1], ROLLUP_MAX_SECONDS) + 1)]


def _band(wait_seconds: float) -> int:
    for index, (low, high) in enumerate(WAIT_BANDS):
        if wait_seconds >= low and (high is None or wait_seconds < high):
            return index
    return 0  # a negative wait: none is written


def _cumulative_add(column: str, total: str) -> str:
    """SQL for an ON CONFLICT update of a cumulative array: the existing row's array (`t`), each element
    past its end being the existing total, plus one from the new key on (NULL: no change)."""
    key = f"%({column}_key)s::int"
    return f"""{column} = CASE WHEN {key} IS NULL THEN t.{column} ELSE ARRAY(
            SELECT COALESCE(t.{column}[i], t.{total}) + (i - 1 >= {key})::int
            FROM generate_series(1, GREATEST(cardinality(t.{column}), LEAST({key}, {ROLLUP_MAX_SECONDS}) + 1))
                AS i ORDER BY i) END"""


QUEUE_HOUR_ADD = f"""
INSERT INTO {ReportQueueHour._meta.db_table} AS t (
    company_id, channel, arrival_webchat_queue_id, arrival_voice_queue_id, hour, refused, offered, answered,
    abandoned, abandoned_ended, total_wait_seconds, max_wait_seconds, total_handle_seconds, wrapped_up,
    total_wrapup_seconds, transfers, answered_by_wait, abandoned_by_stay, wait_bands
) VALUES (
    %(company_id)s, %(channel)s, %(webchat_queue)s, %(voice_queue)s, %(hour)s, %(refused)s, %(offered)s,
    %(answered)s, %(abandoned)s, %(abandoned_ended)s, %(wait)s, %(max_wait)s, %(handle)s, %(wrapped_up)s,
    %(wrapup)s, %(transfers)s, %(answered_by_wait)s, %(abandoned_by_stay)s, %(wait_bands)s
)
ON CONFLICT ON CONSTRAINT report_queue_hour_key DO UPDATE SET
    refused = t.refused + EXCLUDED.refused,
    offered = t.offered + EXCLUDED.offered,
    answered = t.answered + EXCLUDED.answered,
    abandoned = t.abandoned + EXCLUDED.abandoned,
    abandoned_ended = t.abandoned_ended + EXCLUDED.abandoned_ended,
    total_wait_seconds = t.total_wait_seconds + EXCLUDED.total_wait_seconds,
    max_wait_seconds = GREATEST(t.max_wait_seconds, EXCLUDED.max_wait_seconds),
    total_handle_seconds = t.total_handle_seconds + EXCLUDED.total_handle_seconds,
    wrapped_up = t.wrapped_up + EXCLUDED.wrapped_up,
    total_wrapup_seconds = t.total_wrapup_seconds + EXCLUDED.total_wrapup_seconds,
    transfers = t.transfers + EXCLUDED.transfers,
    {_cumulative_add("answered_by_wait", "answered")},
    {_cumulative_add("abandoned_by_stay", "abandoned_ended")},
    wait_bands = ARRAY(
        SELECT COALESCE(t.wait_bands[i], 0) + COALESCE(EXCLUDED.wait_bands[i], 0)
        FROM generate_series(1, {len(WAIT_BANDS)}) AS i ORDER BY i)
"""

CLASSIFICATION_DAY_ADD = f"""
INSERT INTO {ReportClassificationDay._meta.db_table} AS t (
    company_id, channel, arrival_webchat_queue_id, arrival_voice_queue_id, day, classification_id,
    classification_text, interactions
) VALUES (
    %(company_id)s, %(channel)s, %(webchat_queue)s, %(voice_queue)s, %(day)s, %(classification_id)s,
    %(classification_text)s, 1
)
ON CONFLICT ON CONSTRAINT report_classification_day_key DO UPDATE SET interactions = t.interactions + 1
"""

AGENT_DAY_ADD = f"""
INSERT INTO {ReportAgentDay._meta.db_table} AS t (
    company_id, channel, arrival_webchat_queue_id, arrival_voice_queue_id, day, agent_id, interactions,
    handled, total_handle_seconds, wrapped_up, total_wrapup_seconds
) VALUES (
    %(company_id)s, %(channel)s, %(webchat_queue)s, %(voice_queue)s, %(day)s, %(agent_id)s, 1,
    %(answered)s, %(handle)s, %(wrapped_up)s, %(wrapup)s
)
ON CONFLICT ON CONSTRAINT report_agent_day_key DO UPDATE SET
    interactions = t.interactions + 1,
    handled = t.handled + EXCLUDED.handled,
    total_handle_seconds = t.total_handle_seconds + EXCLUDED.total_handle_seconds,
    wrapped_up = t.wrapped_up + EXCLUDED.wrapped_up,
    total_wrapup_seconds = t.total_wrapup_seconds + EXCLUDED.total_wrapup_seconds
"""


def report_rollup_add(interaction: Interaction) -> None:
    """Add a just-written interaction to the rollup: its queue's hour, its classification's day and its
    agent's day, each an INSERT ... ON CONFLICT DO UPDATE (concurrent closes of the same queue and hour
    each add theirs: the second waits for the first's row and adds to what it committed). Always in this
    order, so two closes never wait for each other the other way round. Call it in the transaction that
    writes the interaction."""
    if not _rollup_enabled():
        return
    moment = interaction.opened_at.astimezone(dt.UTC)
    answered = interaction.wait_seconds is not None
    abandoned = interaction.outcome == ABANDONED
    ended = abandoned and interaction.ended_at is not None
    wrapped_up = answered and interaction.wrapup_seconds > 0
    wait = interaction.wait_seconds if answered else None
    bands = [0] * len(WAIT_BANDS)
    if answered:
        bands[_band(wait)] = 1
    values = {
        "company_id": interaction.company_id,
        "channel": interaction.channel,
        "webchat_queue": interaction.arrival_webchat_queue_id,
        "voice_queue": interaction.arrival_voice_queue_id,
        "hour": moment.replace(minute=0, second=0, microsecond=0),
        "day": moment.date(),
        "refused": int(interaction.outcome == REFUSED),
        "offered": int(interaction.outcome != REFUSED),
        "answered": int(answered),
        "abandoned": int(abandoned),
        "abandoned_ended": int(ended),
        "wait": wait or 0.0,
        "max_wait": wait,
        "handle": interaction.handle_seconds if answered else 0.0,
        "wrapped_up": int(wrapped_up),
        "wrapup": interaction.wrapup_seconds if wrapped_up else 0.0,
        "transfers": interaction.transfers,
        "answered_by_wait": cumulative([wait_key(wait)]) if answered else [],
        "answered_by_wait_key": wait_key(wait) if answered else None,
        "abandoned_by_stay": cumulative([stay_key(interaction.opened_at, interaction.ended_at)])
        if ended
        else [],
        "abandoned_by_stay_key": stay_key(interaction.opened_at, interaction.ended_at) if ended else None,
        "wait_bands": bands,
        "classification_id": interaction.classification_id,
        "classification_text": interaction.classification_text,
        "agent_id": interaction.agent_id,
    }
    with connection.cursor() as cursor:
        cursor.execute(QUEUE_HOUR_ADD, values)
        if interaction.outcome != REFUSED:
            cursor.execute(CLASSIFICATION_DAY_ADD, values)
        if interaction.agent_id is not None:
            cursor.execute(AGENT_DAY_ADD, values)


def _in_scope(company_id: int | None) -> tuple[str, list]:
    return ("company_id = %s", [company_id]) if company_id is not None else ("TRUE", [])


def report_rollup_rebuild(*, company_id: int | None = None) -> dict[str, int]:
    """Rebuild the rollup of one company (or of all) from its interactions, in one transaction that holds
    off the closes adding to it meanwhile (they wait, then add theirs to the rebuilt rows). Returns the rows
    written per table."""
    if not _rollup_enabled():
        return {}
    tables = [m._meta.db_table for m in (ReportQueueHour, ReportClassificationDay, ReportAgentDay)]
    scope, params = _in_scope(company_id)
    interactions = Interaction._meta.db_table
    written = {}
    with transaction.atomic(), connection.cursor() as cursor:
        # EXCLUSIVE: reads go on, writes wait. Taken before the interactions are read, so every close
        # either committed before (it is read) or adds itself after (it waits for this transaction).
        cursor.execute(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE")
        for table in tables:
            cursor.execute(f"DELETE FROM {table} WHERE {scope}", params)
        key = "company_id, channel, arrival_webchat_queue_id, arrival_voice_queue_id"
        cursor.execute(
            f"""
            INSERT INTO {tables[1]} ({key}, day, classification_id, classification_text, interactions)
            SELECT {key}, (opened_at AT TIME ZONE 'UTC')::date, classification_id, classification_text,
                   count(*)
            FROM {interactions} WHERE {scope} AND outcome <> %s
            GROUP BY {key}, 5, classification_id, classification_text
            """,
            [*params, REFUSED],
        )
        written[tables[1]] = cursor.rowcount
        cursor.execute(
            f"""
            INSERT INTO {tables[2]} ({key}, day, agent_id, interactions, handled, total_handle_seconds,
                                     wrapped_up, total_wrapup_seconds)
            SELECT {key}, (opened_at AT TIME ZONE 'UTC')::date, agent_id, count(*),
                   count(*) FILTER (WHERE wait_seconds IS NOT NULL),
                   coalesce(sum(handle_seconds) FILTER (WHERE wait_seconds IS NOT NULL), 0),
                   count(*) FILTER (WHERE wait_seconds IS NOT NULL AND wrapup_seconds > 0),
                   coalesce(sum(wrapup_seconds)
                            FILTER (WHERE wait_seconds IS NOT NULL AND wrapup_seconds > 0), 0)
            FROM {interactions} WHERE {scope} AND agent_id IS NOT NULL
            GROUP BY {key}, 5, agent_id
            """,
            params,
        )
        written[tables[2]] = cursor.rowcount
        answered = "wait_seconds IS NOT NULL"
        bands = ", ".join(
            f"count(*) FILTER (WHERE {answered} AND wait_seconds >= {low}"
            + ("" if high is None else f" AND wait_seconds < {high}")
            + ")"
            for low, high in WAIT_BANDS
        )
        cursor.execute(
            f"""
            SELECT {key}, date_trunc('hour', opened_at, 'UTC'),
                   count(*) FILTER (WHERE outcome = %(refused)s),
                   count(*) FILTER (WHERE outcome <> %(refused)s),
                   count(*) FILTER (WHERE {answered}),
                   count(*) FILTER (WHERE outcome = %(abandoned)s),
                   coalesce(sum(wait_seconds), 0), max(wait_seconds),
                   coalesce(sum(handle_seconds) FILTER (WHERE {answered}), 0),
                   count(*) FILTER (WHERE {answered} AND wrapup_seconds > 0),
                   coalesce(sum(wrapup_seconds) FILTER (WHERE {answered} AND wrapup_seconds > 0), 0),
                   coalesce(sum(transfers), 0),
                   array_agg(ceil(wait_seconds)::int) FILTER (WHERE {answered}),
                   array_agg(ceil(extract(epoch FROM ended_at - opened_at))::int)
                       FILTER (WHERE outcome = %(abandoned)s AND ended_at IS NOT NULL),
                   ARRAY[{bands}]
            FROM {interactions} WHERE {scope.replace("%s", "%(company)s")}
            GROUP BY {key}, 5
            """,
            {"refused": REFUSED, "abandoned": ABANDONED, "company": company_id},
        )
        rows = []
        for row in cursor.fetchall():
            waits = [max(0, k) for k in row[15] or []]
            stays = [max(0, k) for k in row[16] or []]
            rows.append((*row[:9], len(stays), *row[9:15], cumulative(waits), cumulative(stays), row[17]))
        columns = (
            f"{key}, hour, refused, offered, answered, abandoned, abandoned_ended, total_wait_seconds,"
            " max_wait_seconds, total_handle_seconds, wrapped_up, total_wrapup_seconds, transfers,"
            " answered_by_wait, abandoned_by_stay, wait_bands"
        )
        cursor.executemany(
            f"INSERT INTO {tables[0]} ({columns}) VALUES ({', '.join(['%s'] * 19)})",
            rows,
        )
        written[tables[0]] = len(rows)
    return written


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
    return _record(
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
    return _record(
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
