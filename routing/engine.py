"""The engine: the one writer of chat and agent state.

Every public function here is one transition. It runs in one transaction, locks the rows it changes with
SELECT ... FOR UPDATE in a fixed order (the agent's membership first, then the chat), re-checks the rule it
enforces after locking, refuses an illegal transition with TransitionError, and publishes what changed
after commit (routing.events). Allocation claims queued chats with SKIP LOCKED, so any number of server
processes may allocate at once without giving one chat to two agents or an agent more than its capacity.

Work that may find nothing to do (allocation after a change) runs after the transition's own transaction,
so a slow allocation never holds the caller's locks.
"""

import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from contactcentre.models import ChannelPriority, Membership, Presence
from crm.models import Channel, Contact, Interaction
from routing import events, selectors, telephony
from routing.events import Outbox
from routing.models import (
    BreakReason,
    Call,
    CallState,
    TelephonyEvent,
    VoiceQueue,
    WebchatQueue,
)
from runtime import periodic
from webchat.models import (
    HELD_STATES,
    Chat,
    ChatState,
    Classification,
    EndedBy,
    Message,
    Outcome,
    ParkReason,
    Sender,
)
from webchat.text import RESERVED_CLIENT_ID_MESSAGE, client_id_reserved, displayable_name

logger = logging.getLogger(__name__)

S = ChatState
C = CallState


class TransitionError(Exception):
    """A refused transition: `code` for programs, `message` for people."""

    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


# Every allowed transition of a chat, as data: action -> {from state: to state}. Two rules refine the
# landing state (see _landing): a chat the customer already ended lands in wrap-up instead of active, and
# wrap-up lands in closed on a queue with wrap-up disabled.
TRANSITIONS: dict[str, dict[str, str]] = {
    "take": {S.QUEUED: S.INBOX},
    "allocate": {S.QUEUED: S.INBOX},
    "activate": {S.INBOX: S.ACTIVE, S.PARKED: S.ACTIVE, S.WRAPUP_PARKED: S.WRAPUP},
    "park": {S.ACTIVE: S.PARKED, S.WRAPUP: S.WRAPUP_PARKED},
    "put_back": {S.INBOX: S.QUEUED, S.ACTIVE: S.QUEUED, S.PARKED: S.QUEUED},
    "transfer": {S.INBOX: S.QUEUED, S.ACTIVE: S.QUEUED, S.PARKED: S.QUEUED},
    "end": {S.ACTIVE: S.WRAPUP},
    "customer_end": {S.QUEUED: S.CLOSED, S.INBOX: S.INBOX, S.ACTIVE: S.WRAPUP, S.PARKED: S.PARKED},
    "extend": {S.WRAPUP: S.WRAPUP},
    "complete_wrapup": {S.WRAPUP: S.CLOSED, S.WRAPUP_PARKED: S.CLOSED},
    "expire_wrapup": {S.WRAPUP: S.CLOSED},
    # A disabled queue hands its waiting chats on: to its fallback queue, or ended (queue_disable).
    "to_fallback": {S.QUEUED: S.QUEUED},
    "queue_closed": {S.QUEUED: S.CLOSED},
    "release": {
        S.INBOX: S.QUEUED,
        S.ACTIVE: S.QUEUED,
        S.PARKED: S.QUEUED,
        S.WRAPUP: S.CLOSED,
        S.WRAPUP_PARKED: S.CLOSED,
    },
}

CLIENT_ID_CHARS = Message._meta.get_field("client_id").max_length
CLASSIFICATION_CHARS = Chat._meta.get_field("classification_text").max_length

# What an agent may do to the chats they hold that does not change the state.
EDITABLE_STATES = frozenset(HELD_STATES)

REFUSALS = {
    "take": ("not_queued", "This chat is no longer waiting in a queue."),
    "allocate": ("not_queued", "This chat is no longer waiting in a queue."),
    "activate": ("cannot_activate", "This chat cannot be made active now."),
    "park": ("not_active", "Only the active chat or an active wrap-up can be parked."),
    "put_back": ("cannot_put_back", "Only chats in the inbox, active or parked can be put back."),
    "transfer": ("cannot_transfer", "Only chats in the inbox, active or parked can be transferred."),
    "end": ("not_active", "Make the chat active before ending it."),
    "customer_end": ("already_ended", "The chat has already ended."),
    "extend": ("not_in_wrapup", "Only an active wrap-up can be extended."),
    "complete_wrapup": ("not_in_wrapup", "This chat is not in wrap-up."),
    "expire_wrapup": ("not_in_wrapup", "This chat is not in wrap-up."),
    "release": ("not_held", "This chat is not held by an agent."),
    "to_fallback": ("not_queued", "This chat is no longer waiting in a queue."),
    "queue_closed": ("not_queued", "This chat is no longer waiting in a queue."),
}

MOVED_TO_FALLBACK = "This queue has closed, so your chat has moved to another queue. Please keep waiting."
QUEUE_CLOSED = "This queue has closed, so this chat has ended. Please contact us again later."


# PostgreSQL text cannot hold NUL, and lone surrogates cannot be encoded as UTF-8. A form or a JSON body can
# carry either, so such text is refused as invalid here rather than failing in the database.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _require_storable(value: str | None, *, what: str, limit: int | None = None) -> None:
    if value is None:
        return
    if UNSTORABLE.search(value):
        raise TransitionError("invalid", f"The {what} contains characters that cannot be stored.", status=400)
    if limit is not None and len(value) > limit:
        raise TransitionError("invalid", f"The {what} is limited to {limit} characters.", status=400)


def _require_client_id(client_id: str) -> None:
    """A client's id for a message: storable, within the column, and not one of the product's own."""
    _require_storable(client_id, what="message id", limit=CLIENT_ID_CHARS)
    if client_id_reserved(client_id):
        raise TransitionError("invalid", RESERVED_CLIENT_ID_MESSAGE, status=400)


def target_state(action: str, state: str) -> str:
    """The state `action` moves a chat in `state` to, or TransitionError if it may not."""
    try:
        return TRANSITIONS[action][state]
    except KeyError:
        code, message = REFUSALS[action]
        raise TransitionError(code, message) from None


def _landing(chat: Chat, state: str) -> str:
    if state == S.ACTIVE and chat.ended_at is not None:
        state = S.WRAPUP
    if state == S.WRAPUP and not chat.queue.wrapup_enabled:
        state = S.CLOSED
    return state


def _now() -> datetime:
    return timezone.now()


# ---------------------------------------------------------------------------------------------------------
# Locking helpers. Order: membership, then chats (by primary key when several).


def _lock_agent(agent: Membership | int) -> Membership:
    agent_id = agent if isinstance(agent, int) else agent.pk
    return (
        Membership.objects.select_for_update(no_key=True, of=("self",))
        .select_related("company", "queue_profile", "user")
        .get(pk=agent_id)
    )


def _lock_chat(chat_id, *, company_id: int | None = None) -> Chat:
    chats = Chat.objects.select_for_update(no_key=True, of=("self",)).select_related(
        "queue", "queue__company"
    )
    return _locked_chat(chats, chat_id, company_id)


def _locked_chat(chats, chat_id, company_id: int | None) -> Chat:
    """The chat of `chats` (a locking queryset) with this id, in this company if given; else not_found."""
    if company_id is not None:
        chats = chats.filter(company_id=company_id)
    try:
        return chats.get(pk=chat_id)
    except (Chat.DoesNotExist, ValueError, TypeError, ValidationError):
        raise TransitionError("not_found", "No such chat.", status=404) from None


# What storing a message reads and writes of its chat: the lock for a message takes these columns alone (no
# joins), the hottest statement of the product.
MESSAGE_CHAT_FIELDS = (
    "id",
    "company_id",
    "agent_id",
    "state",
    "ended_at",
    "last_seq",
    "customer_waiting_since",
    "reply_overdue",
)


# Storing a message is the product's hottest path, and building its statements through the ORM cost more CPU
# than PostgreSQL spent running them (0.68 ms for the lock, 0.89 ms for the client-id check, against 0.07 ms
# for a round trip). Its statements (lock, client-id check, insert, update) are written out here from the
# models' own table and column names, once per database, with each field's own conversion of its values.


class _Statements:
    """The message path's statements for one database, built on first use and kept for the process."""

    def __init__(self, db) -> None:
        quote = db.ops.quote_name
        chat_table, message_table = quote(Chat._meta.db_table), quote(Message._meta.db_table)
        chat_pk, chat_company = self._columns(db, Chat, "id", "company")
        lock = db.ops.for_update_sql(no_key=True) if db.features.has_select_for_update else ""
        # In the model's order of fields, which `Model.from_db` expects of a partial row.
        wanted = {Chat._meta.get_field(name) for name in MESSAGE_CHAT_FIELDS}
        self.chat_fields = [field for field in Chat._meta.concrete_fields if field in wanted]
        self.chat_attnames = [field.attname for field in self.chat_fields]
        select = f"SELECT {', '.join(quote(field.column) for field in self.chat_fields)} FROM {chat_table}"
        self.lock = f"{select} WHERE {chat_pk} = %s {lock}"
        self.lock_in_company = f"{select} WHERE {chat_pk} = %s AND {chat_company} = %s {lock}"
        # What the database gives back, as the model's fields expect it (SQLite returns text for datetimes).
        self.chat_converters = []
        for index, field in enumerate(self.chat_fields):
            column = field.get_col(Chat._meta.db_table)
            converters = db.ops.get_db_converters(column) + field.get_db_converters(db)
            if converters:
                self.chat_converters.append((index, column, converters))
        message_pk, message_chat, message_client = self._columns(db, Message, "id", "chat", "client_id")
        self.existing = (
            f"SELECT {message_pk} FROM {message_table} WHERE {message_chat} = %s AND {message_client} = %s"
        )
        self.message_fields = [Message._meta.get_field(name) for name in MESSAGE_FIELDS]
        columns = ", ".join(quote(field.column) for field in self.message_fields)
        placeholders = ", ".join(["%s"] * len(self.message_fields))
        self.returning = db.features.can_return_columns_from_insert
        self.insert = f"INSERT INTO {message_table} ({columns}) VALUES ({placeholders})"
        if self.returning:
            self.insert += f" RETURNING {message_pk}"
        self.chat_update_fields = [Chat._meta.get_field(name) for name in MESSAGE_CHAT_UPDATE_FIELDS]
        self.update_chat = _update_sql(db, Chat, self.chat_update_fields)
        # On PostgreSQL the message's row and its chat's counters go in one statement: one round trip less.
        self.insert_and_update = (
            f"WITH inserted AS ({self.insert}) {self.update_chat} "
            f"RETURNING (SELECT {message_pk} FROM inserted)"
            if db.vendor == "postgresql"
            else None
        )

    @staticmethod
    def _columns(db, model, *names: str) -> list[str]:
        return [db.ops.quote_name(model._meta.get_field(name).column) for name in names]


_statements: dict[str, _Statements] = {}


def _prepared():
    """The default database's connection (looked up once per call: each lookup goes through a thread-local)
    and its message statements."""
    db = connections[DEFAULT_DB_ALIAS]
    statements = _statements.get(db.alias)
    if statements is None:
        statements = _statements[db.alias] = _Statements(db)
    return db, statements


def _chat_pk(chat_id, db=connection):
    """`chat_id` as the database stores it; a value that is no chat id is not found."""
    try:
        return Chat._meta.pk.get_db_prep_value(Chat._meta.pk.to_python(chat_id), db)
    except (ValidationError, ValueError, TypeError, AttributeError):
        raise TransitionError("not_found", "No such chat.", status=404) from None


def _lock_chat_for_message(chat_id, *, company_id: int | None = None) -> Chat:
    """The chat's MESSAGE_CHAT_FIELDS, its row locked; the other fields are deferred."""
    db, statements = _prepared()
    with db.cursor() as cursor:
        if company_id is None:
            cursor.execute(statements.lock, [_chat_pk(chat_id, db)])
        else:
            cursor.execute(statements.lock_in_company, [_chat_pk(chat_id, db), company_id])
        row = cursor.fetchone()
    if row is None:
        raise TransitionError("not_found", "No such chat.", status=404)
    if statements.chat_converters:
        row = list(row)
        for index, column, converters in statements.chat_converters:
            for convert in converters:
                row[index] = convert(row[index], column, db)
    return Chat.from_db(db.alias, statements.chat_attnames, row)


MESSAGE_FIELDS = ("chat", "seq", "client_id", "sender", "agent", "agent_name", "text", "sent_at")
# What storing a message changes of its chat.
MESSAGE_CHAT_UPDATE_FIELDS = ("last_seq", "customer_waiting_since", "reply_overdue")


def _insert_message(message: Message, chat: Chat) -> None:
    """INSERT the message and write back what storing it changed of its chat (locked by
    `_lock_chat_for_message`), and set the message's primary key, as `save()` would."""
    db, statements = _prepared()
    values = [
        field.get_db_prep_save(field.pre_save(message, True), db) for field in statements.message_fields
    ]
    chat_values = [
        field.get_db_prep_save(getattr(chat, field.attname), db) for field in statements.chat_update_fields
    ]
    chat_pk = Chat._meta.pk.get_db_prep_value(chat.pk, db)
    with db.cursor() as cursor:
        if statements.insert_and_update is not None:
            cursor.execute(statements.insert_and_update, [*values, *chat_values, chat_pk])
            message.pk = cursor.fetchone()[0]
        else:
            cursor.execute(statements.insert, values)
            message.pk = cursor.fetchone()[0] if statements.returning else cursor.lastrowid
            cursor.execute(statements.update_chat, [*chat_values, chat_pk])
    message._state.adding = False
    message._state.db = db.alias


def _update_sql(db, model, fields) -> str:
    """UPDATE of these fields of one row, by primary key; the values, then the key, as parameters."""
    quote = db.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    return f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(model._meta.pk.column)} = %s"


def _update(model, pk, values: dict) -> None:
    """UPDATE these columns of one row, without building the statement through the ORM."""
    meta = model._meta
    fields = [meta.get_field(name) for name in values]
    params = [field.get_db_prep_save(values[field.name], connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            _update_sql(connection, model, fields), [*params, meta.pk.get_db_prep_value(pk, connection)]
        )


def _lock_agents_chat(agent_id: int, chat_id) -> tuple[Membership, Chat]:
    """Lock an agent and one of their chats; another agent's or company's chat is not found."""
    agent = _lock_agent(agent_id)
    chat = _lock_chat(chat_id, company_id=agent.company_id)
    if chat.agent_id != agent.pk:
        raise TransitionError("not_yours", "This chat is not in your inbox.", status=404)
    return agent, chat


def _lock_queues_to_wait_in(queue_ids) -> dict[int, WebchatQueue]:
    """Lock the queues that chats are about to wait in (by primary key), as chat_open and queue_disable
    lock a queue: a queue being disabled is waited for and then read as disabled, so no chat joins a queue
    after its waiting chats were handed on. The caller holds the agent's and the chats' locks; neither
    chat_open nor queue_disable waits for those, so the order cannot deadlock."""
    return {
        queue.pk: queue
        for queue in WebchatQueue.objects.select_for_update(no_key=True, of=("self",))
        .select_related("company")
        .filter(pk__in=queue_ids)
        .order_by("pk")
    }


def _require_logged_in(agent: Membership) -> None:
    """The agent (locked, with their user) is signed in and their login is active."""
    if not agent.user.is_active:
        raise TransitionError("inactive", "Your login has been deactivated.", status=403)
    if agent.presence == Presence.UNAVAILABLE:
        raise TransitionError(
            "unavailable", "You are Unavailable: set yourself Available or on a break first."
        )


# ---------------------------------------------------------------------------------------------------------
# Events


def _tell_agent(out: Outbox, agent_id: int | None, **frame) -> None:
    if agent_id is not None:
        out.add_once(events.agent_group(agent_id), frame)


def _tell_inbox(out: Outbox, chat: Chat, agent_id: int | None) -> None:
    """The agent's inbox row and workspace for this chat changed."""
    _tell_agent(out, agent_id, type="inbox")
    _tell_agent(out, agent_id, type="chat", chat_id=str(chat.pk), state=chat.state)


def _tell_queue(out: Outbox, queue: WebchatQueue) -> None:
    out.add_once(events.queue_group(queue.pk), {"type": "queue", "queue_id": queue.pk})
    out.add_once(events.wallboard_group(queue.company_id), {"type": "wallboard"})


def _tell_customer(out: Outbox, chat: Chat) -> None:
    out.add(events.chat_group(chat.pk), selectors.customer_state(chat))


def _tell_presence(out: Outbox, agent: Membership) -> None:
    _tell_agent(out, agent.pk, type="presence")
    out.add_once(events.wallboard_group(agent.company_id), {"type": "wallboard"})


# ---------------------------------------------------------------------------------------------------------
# Clocks


def _stop_handle_clock(chat: Chat, now: datetime) -> None:
    if chat.activated_at is not None:
        chat.handle_seconds += max(0.0, (now - chat.activated_at).total_seconds())
        chat.activated_at = None


def _start_wrapup(chat: Chat, now: datetime) -> None:
    chat.wrapup_started_at = now
    chat.wrapup_deadline = now + timedelta(seconds=chat.queue.wrapup_seconds)
    chat.wrapup_remaining_seconds = None


def _pause_wrapup(chat: Chat, now: datetime) -> None:
    chat.wrapup_remaining_seconds = max(0.0, (chat.wrapup_deadline - now).total_seconds())
    chat.wrapup_deadline = None


def _resume_wrapup(chat: Chat, now: datetime) -> None:
    chat.wrapup_deadline = now + timedelta(seconds=chat.wrapup_remaining_seconds or 0)
    chat.wrapup_remaining_seconds = None


def _mark_ended(chat: Chat, now: datetime, by: str) -> None:
    if chat.ended_at is None:
        chat.ended_at = now
        chat.ended_by = by


def _close(chat: Chat, now: datetime, outcome: str) -> None:
    """Close the chat and log it in the CRM."""
    _mark_ended(chat, now, EndedBy.SYSTEM)
    chat.state = S.CLOSED
    chat.outcome = outcome
    chat.closed_at = now
    chat.activated_at = None
    chat.wrapup_deadline = None
    chat.wrapup_remaining_seconds = None
    chat.unseen = False
    chat.customer_waiting_since = None
    chat.reply_overdue = False
    agent = chat.agent
    wrapup_seconds = (now - chat.wrapup_started_at).total_seconds() if chat.wrapup_started_at else 0.0
    Interaction.objects.create(
        company_id=chat.company_id,
        contact_id=chat.contact_id,
        channel=Channel.WEBCHAT,
        chat=chat,
        queue_name=chat.queue.name,
        webchat_queue_id=chat.queue_id,
        agent=agent,
        agent_name=agent.name if agent else "",
        customer_name=chat.customer_name,
        opened_at=chat.created_at,
        answered_at=chat.answered_at,
        ended_at=chat.ended_at,
        closed_at=now,
        handle_seconds=round(chat.handle_seconds, 3),
        wrapup_seconds=round(wrapup_seconds, 3),
        classification_id=chat.classification_id,
        classification_text=chat.classification_text,
        notes=chat.notes,
        abusive=chat.abusive,
        outcome=outcome,
    )


def _enter_landing(chat: Chat, state: str, now: datetime) -> None:
    """Put the chat in `state`, running what entering wrap-up or closed means."""
    if state == S.WRAPUP:
        _stop_handle_clock(chat, now)
        chat.state = S.WRAPUP
        if chat.wrapup_started_at is None:
            _start_wrapup(chat, now)
        elif chat.wrapup_remaining_seconds is not None:
            _resume_wrapup(chat, now)
    elif state == S.CLOSED:
        _stop_handle_clock(chat, now)
        _close(chat, now, Outcome.COMPLETED)
    else:
        chat.state = state


# ---------------------------------------------------------------------------------------------------------
# The customer opens and ends a chat


@dataclass(frozen=True)
class OpenedChat:
    chat: Chat
    first_message: Message | None


def chat_open(
    *,
    queue_token: str,
    customer_name: str = "",
    first_message: str = "",
    visitor_id: str = "",
    client_id: str = "",
) -> OpenedChat:
    """Open a chat on the queue the token selects.

    Locks the queue row so that concurrent opens respect Maximum Queue Length exactly. Refuses an unknown
    or disabled queue (404 unknown_queue), a full queue (409 queue_full) and a queue nobody serves when
    waiting is not allowed (409 no_agents); a refused chat is still logged, closed with outcome refused.
    Allocates after commit when the queue auto-allocates. The customer's name is stored without invisible
    formatting characters; a client id of the product's own is refused (400 invalid).
    """
    customer_name = displayable_name(customer_name)
    if client_id:
        _require_client_id(client_id)
    now = _now()
    out = Outbox()
    refusal: TransitionError | None = None
    with transaction.atomic():
        try:
            queue = (
                WebchatQueue.objects.select_for_update(no_key=True, of=("self",))
                .select_related("company")
                .get(token=queue_token, enabled=True)
            )
        except WebchatQueue.DoesNotExist:
            raise TransitionError("unknown_queue", "This chat is not available.", status=404) from None
        waiting = Chat.objects.filter(queue=queue, state=S.QUEUED).count()
        if waiting >= queue.max_queue_length:
            refusal = TransitionError(
                "queue_full", "All our agents are busy and the queue is full. Please try again later."
            )
        elif not queue.allow_wait_without_agents and not selectors.queue_has_agents(queue):
            refusal = TransitionError(
                "no_agents", "No one is available to chat right now. Please try again later."
            )
        chat = Chat.objects.create(
            company_id=queue.company_id,
            queue=queue,
            customer_name=customer_name,
            visitor_id=visitor_id,
            created_at=now,
            queued_at=now,
        )
        message = None
        if refusal is not None:
            _close(chat, now, Outcome.REFUSED)
            chat.save()
        else:
            if first_message:
                message = _store_message(
                    chat, Sender.CUSTOMER, client_id or f"open-{chat.pk}", first_message, now
                )
            _tell_queue(out, queue)
            out.send_on_commit()
    if refusal is not None:
        raise refusal
    if queue.auto_allocate:
        allocate_after_change(queue_id=queue.pk)
        chat.refresh_from_db()
    return OpenedChat(chat=chat, first_message=message)


def chat_end_by_customer(*, chat_id) -> Chat:
    """The customer ends the chat from the widget or app.

    Locks the chat's agent (if any), then the chat. Queued: closed as abandoned. Active: wrap-up (or closed
    where wrap-up is off). In the inbox or parked: marked ended; it enters wrap-up when the agent activates
    it. Already ended: nothing changes.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        chat = _lock_chat_with_agent(chat_id)
        if chat.ended_at is not None or chat.state == S.CLOSED:
            return chat
        target = target_state("customer_end", chat.state)
        _mark_ended(chat, now, EndedBy.CUSTOMER)
        agent_id = chat.agent_id
        if chat.state == S.QUEUED:
            _close(chat, now, Outcome.ABANDONED)
            _tell_queue(out, chat.queue)
            out.add_positions(chat.queue_id)
        else:
            _enter_landing(chat, _landing(chat, target), now)
        chat.customer_waiting_since = None
        chat.reply_overdue = False
        chat.save()
        _system_message(out, chat, "The chat was ended by the customer.", now)
        _tell_customer(out, chat)
        _tell_inbox(out, chat, agent_id)
        out.send_on_commit()
    if chat.state == S.CLOSED and agent_id is not None:
        offer_work(agent_id=agent_id)
    return chat


class _ChangedHands(Exception):
    pass


def _lock_chat_with_agent(chat_id) -> Chat:
    """Lock a chat and its agent, agent first: the chat's agent is read, locked, then confirmed.

    If the chat changed hands between the read and the lock, the attempt's savepoint is rolled back, which
    releases its row locks, so the fixed order is never broken.
    """
    for _ in range(5):
        try:
            agent_id = Chat.objects.filter(pk=chat_id).values_list("agent_id", flat=True).get()
        except (Chat.DoesNotExist, ValueError, TypeError, ValidationError):
            raise TransitionError("not_found", "No such chat.", status=404) from None
        try:
            with transaction.atomic():
                if agent_id is not None:
                    _lock_agent(agent_id)
                chat = _lock_chat(chat_id)
                if chat.agent_id != agent_id:
                    raise _ChangedHands
                return chat
        except _ChangedHands:
            continue
    raise TransitionError("busy", "The chat is changing hands; try again.")


# ---------------------------------------------------------------------------------------------------------
# Messages


def _store_message(chat: Chat, sender: str, client_id: str, text: str, now: datetime, agent=None) -> Message:
    """Store a message with the chat's next sequence number, and the chat's MESSAGE_CHAT_UPDATE_FIELDS; the
    caller holds the chat's lock."""
    chat.last_seq += 1
    if sender == Sender.CUSTOMER and chat.customer_waiting_since is None:
        chat.customer_waiting_since = now
    elif sender == Sender.AGENT:
        chat.customer_waiting_since = None
        chat.reply_overdue = False
    message = Message(
        chat=chat,
        seq=chat.last_seq,
        client_id=client_id,
        sender=sender,
        agent=agent,
        agent_name=agent.name if agent else "",
        text=text,
        sent_at=now,
    )
    _insert_message(message, chat)
    return message


def message_frame(message: Message) -> dict:
    """A stored message as PROTOCOL.md's <message>, with the frame type."""
    frame = {
        "type": "message",
        "seq": message.seq,
        "client_id": message.client_id,
        "sender": message.sender,
        "text": message.text,
        "sent_at": message.sent_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
    if message.agent_name:
        frame["agent_name"] = message.agent_name
    return frame


def _broadcast_message(out: Outbox, chat: Chat, message: Message) -> None:
    frame = message_frame(message)
    out.add(events.chat_group(chat.pk), frame)
    if chat.agent_id is not None:
        # The agent's page refreshes its inbox row from this frame too: no separate `inbox` frame.
        out.add(events.agent_group(chat.agent_id), {**frame, "chat_id": str(chat.pk)})


def _system_message(out: Outbox, chat: Chat, text: str, now: datetime) -> Message:
    """Store and broadcast a message of the product's own. Its client id is in the reserved namespace
    (webchat.text), which no client may use, so it never clashes with a client's message."""
    message = _store_message(chat, Sender.SYSTEM, f"system-{chat.pk}-{chat.last_seq + 1}", text, now)
    _broadcast_message(out, chat, message)
    return message


def _existing_message(chat_id, client_id: str) -> Message | None:
    db, statements = _prepared()
    with db.cursor() as cursor:
        cursor.execute(statements.existing, [_chat_pk(chat_id, db), client_id])
        row = cursor.fetchone()
    return Message.objects.get(pk=row[0]) if row else None


def message_post_customer(*, chat_id, client_id: str, text: str) -> tuple[Message, bool]:
    """Store and broadcast a customer's message; the same client_id again returns the stored one.

    Locks the chat. Refuses a message to an ended chat (409 chat_ended) and a client id of the product's own
    (400 invalid). Returns (message, created).
    """
    _require_client_id(client_id)
    _require_storable(text, what="message")
    now = _now()
    out = Outbox()
    with transaction.atomic():
        chat = _lock_chat_for_message(chat_id)
        existing = _existing_message(chat.pk, client_id)
        if existing is not None:
            return existing, False
        if chat.ended_at is not None or chat.state == S.CLOSED:
            raise TransitionError("chat_ended", "The chat has ended.")
        message = _store_message(chat, Sender.CUSTOMER, client_id, text, now)
        _broadcast_message(out, chat, message)
        out.send_on_commit()
    return message, True


def message_post_agent(*, agent: Membership, chat_id, client_id: str, text: str) -> tuple[Message, bool]:
    """Store and broadcast an agent's reply. The chat must be the agent's active chat.

    Locks the chat only: the rule (this agent holds it and it is active) is a property of the chat row. A
    client id of the product's own is refused (400 invalid).
    """
    _require_client_id(client_id)
    _require_storable(text, what="message")
    now = _now()
    out = Outbox()
    with transaction.atomic():
        chat = _lock_chat_for_message(chat_id, company_id=agent.company_id)
        if chat.agent_id != agent.pk:
            raise TransitionError("not_yours", "This chat is not in your inbox.", status=404)
        existing = _existing_message(chat.pk, client_id)
        if existing is not None:
            return existing, False
        if chat.state != S.ACTIVE:
            raise TransitionError("not_active", "Make the chat active to reply.")
        message = _store_message(chat, Sender.AGENT, client_id, text, now, agent=agent)
        _broadcast_message(out, chat, message)
        out.send_on_commit()
    return message, True


# ---------------------------------------------------------------------------------------------------------
# Taking and allocating


def _check_capacity(agent: Membership, queue: WebchatQueue) -> None:
    held = Chat.objects.filter(agent=agent, state__in=HELD_STATES).count()
    if held >= queue.chat_capacity():
        raise TransitionError(
            "at_capacity",
            f"You already hold {held} chats, the most this queue allows ({queue.chat_capacity()}).",
        )


def chat_take(*, agent: Membership, chat_id) -> Chat:
    """The agent takes a waiting chat from a queue they see into their inbox.

    Locks the agent, then the chat; re-checks that the chat is still queued, that the agent serves its
    queue and has capacity under the queue's maximum. Exactly one of several agents taking the same chat wins.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent = _lock_agent(agent)
        _require_logged_in(agent)
        if not agent.can_webchat:
            raise TransitionError("not_webchat", "Your login does not handle webchat.", status=403)
        chat = _lock_chat(chat_id, company_id=agent.company_id)
        if not selectors.agent_serves_queue(agent, chat.queue):
            raise TransitionError(
                "queue_not_visible", "This chat's queue is not in your profile.", status=404
            )
        target = target_state("take", chat.state)
        _check_capacity(agent, chat.queue)
        _give_to_agent(chat, agent, target, now, unseen=False)
        chat.save()
        agent.save(update_fields=["last_allocated_at"])
        _after_given(out, chat, agent)
        out.send_on_commit()
    return chat


def _give_to_agent(chat: Chat, agent: Membership, state: str, now: datetime, *, unseen: bool) -> None:
    chat.state = state
    chat.agent = agent
    chat.allocated_at = now
    chat.unseen = unseen
    chat.queue_priority = 0
    agent.last_allocated_at = now


def _after_given(out: Outbox, chat: Chat, agent: Membership) -> None:
    _tell_inbox(out, chat, agent.pk)
    _tell_queue(out, chat.queue)
    _tell_customer(out, chat)
    out.add_positions(chat.queue_id)


def allocate_queue(*, queue_id: int) -> list[Chat]:
    """Allocate the queue's waiting chats, oldest first, to eligible agents with free capacity.

    Locks the candidate agents (SKIP LOCKED: an agent busy in another transition is passed over this round),
    then the chats (SKIP LOCKED). Among agents under capacity it picks the fewest open chats, then the
    longest since their last allocation. Returns the chats allocated.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        queue = WebchatQueue.objects.select_related("company").filter(pk=queue_id).first()
        if queue is None or not (queue.enabled and queue.auto_allocate):
            return []
        agents = list(
            selectors.allocation_candidates(queue)
            .select_for_update(skip_locked=True, no_key=True, of=("self",))
            .select_related("user")
            .order_by("pk")
        )
        if not agents:
            return []
        # Re-check under lock, in a statement that sees every transition committed before the locks were
        # taken: no active wrap-up, no call, capacity left.
        held = selectors.held_counts_of_free([a.pk for a in agents])
        capacity = queue.chat_capacity()
        agents = [a for a in agents if a.pk in held]
        free = {a.pk: capacity - held[a.pk] for a in agents if held[a.pk] < capacity}
        if not free:
            return []
        chats = list(
            Chat.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
            .select_related("queue")
            .filter(queue=queue, state=S.QUEUED)
            .order_by("-queue_priority", "queued_at", "pk")[: sum(free.values())]
        )
        epoch = datetime.min.replace(tzinfo=UTC)
        by_id = {a.pk: a for a in agents}
        allocated: list[Chat] = []
        for chat in chats:
            choices = [pk for pk, n in free.items() if n > 0 and pk != chat.returned_by_id]
            if not choices:
                continue
            pk = min(choices, key=lambda pk: (held[pk], by_id[pk].last_allocated_at or epoch, pk))
            agent = by_id[pk]
            _give_to_agent(chat, agent, target_state("allocate", chat.state), now, unseen=True)
            chat.returned_by = None
            held[pk] += 1
            free[pk] -= 1
            allocated.append(chat)
        if not allocated:
            return []
        # Every chat given to one agent gets the same values: one UPDATE per agent, not a CASE per chat.
        given: dict[int, list] = {}
        for chat in allocated:
            given.setdefault(chat.agent_id, []).append(chat.pk)
        for agent_id, chat_ids in given.items():
            Chat.objects.filter(pk__in=chat_ids).update(
                state=S.INBOX,
                agent_id=agent_id,
                allocated_at=now,
                unseen=True,
                queue_priority=0,
                returned_by=None,
            )
        Membership.objects.filter(pk__in=given).update(last_allocated_at=now)
        for chat in allocated:
            _after_given(out, chat, chat.agent)
            _tell_agent(out, chat.agent_id, type="bell", chat_id=str(chat.pk))
        out.send_on_commit()
    logger.info(
        "allocated %d chat(s) from queue %s",
        len(allocated),
        queue_id,
        extra={
            "queue_id": queue_id,
            "company_id": queue.company_id,
            "allocations": [{"chat_id": str(chat.pk), "agent_id": chat.agent_id} for chat in allocated],
        },
    )
    return allocated


def allocate_for_agent(*, agent: Membership | int) -> None:
    """Offer the agent's queues' waiting chats after the agent freed capacity or became Available.

    `agent`: the membership with its queue profile as the caller's transition left it, or its id.
    """
    if isinstance(agent, int):
        agent = Membership.objects.select_related("queue_profile").filter(pk=agent).first()
        if agent is None:
            return
    waiting = Chat.objects.filter(queue_id=OuterRef("pk"), state=S.QUEUED)
    allocate_queues(
        queue_ids=selectors.queues_visible_to(agent)
        .filter(auto_allocate=True)
        .filter(Exists(waiting))
        .values_list("pk", flat=True)
    )


class _Rounds:
    """The allocation rounds of one queue in this process, shared by every thread that asks for one.

    Asks are numbered. A round notes the last number asked when it starts; once it has committed, every ask
    up to that number is answered, for the round's statements saw each asker's committed change. A thread
    asking while another's round runs waits for it, then runs one more round only if none that started after
    its ask has finished: when many changes arrive together (agents becoming Available at the start of a
    shift, a wave of customers), one round serves them all instead of each taking its own, and each caller
    still returns after an allocation that saw its change.
    """

    def __init__(self) -> None:
        self.running = threading.Lock()
        self.counting = threading.Lock()
        self.asked = 0
        self.answered = 0

    def ask(self) -> int:
        with self.counting:
            self.asked += 1
            return self.asked

    def allocate(self, queue_id: int) -> list[Chat]:
        ticket = self.ask()
        with self.running:
            if self.answered >= ticket:
                return []
            with self.counting:
                starts_at = self.asked
            allocated = allocate_queue(queue_id=queue_id)
            self.answered = starts_at
        return allocated


_rounds: dict[int, _Rounds] = {}
_rounds_lock = threading.Lock()


def _rounds_of(queue_id: int) -> _Rounds:
    rounds = _rounds.get(queue_id)
    if rounds is None:
        with _rounds_lock:
            rounds = _rounds.setdefault(queue_id, _Rounds())
    return rounds


def allocate_after_change(*, queue_id: int) -> list[Chat]:
    """Allocate from the queue after a change that may let it (a chat arrived, an agent freed capacity or
    became Available), in a round shared with the changes this process made meanwhile. Returns the chats
    this caller's own round allocated (none when another thread's round answered for it).

    Called inside a transaction, the change is not committed yet and no other thread's round would see it:
    the round runs here, in the caller's transaction.
    """
    if connection.in_atomic_block:
        return allocate_queue(queue_id=queue_id)
    return _rounds_of(queue_id).allocate(queue_id)


def allocate_queues(*, queue_ids: Iterable[int]) -> int:
    allocated = 0
    for queue_id in list(queue_ids):
        allocated += len(allocate_after_change(queue_id=queue_id))
    return allocated


# ---------------------------------------------------------------------------------------------------------
# The agent works a chat


def chat_mark_seen(*, agent: Membership, chat_id) -> Chat:
    """The agent opened the chat: the bell and highlight go. Locks the agent, then the chat."""
    out = Outbox()
    with transaction.atomic():
        agent, chat = _lock_agents_chat(agent.pk, chat_id)
        if chat.unseen:
            chat.unseen = False
            chat.save(update_fields=["unseen"])
            _tell_agent(out, agent.pk, type="inbox")
        out.send_on_commit()
    return chat


def chat_activate(*, agent: Membership, chat_id) -> Chat:
    """Make the chat the agent's active item.

    Locks the agent, then their active item and this chat (by primary key). The agent's current active chat
    is parked and an active wrap-up is paused: one active item per agent. A chat the customer ended while it
    sat in the inbox or parked enters wrap-up instead.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent = _lock_agent(agent)
        _require_logged_in(agent)
        chat = _lock_chat(chat_id, company_id=agent.company_id)
        if chat.agent_id != agent.pk:
            raise TransitionError("not_yours", "This chat is not in your inbox.", status=404)
        target = _landing(chat, target_state("activate", chat.state))
        if Call.objects.filter(agent=agent, state__in=(C.CONNECTED, C.WRAPUP)).exists():
            raise TransitionError("on_a_call", "Finish the call first: it is your active item.")
        _park_active_items(out, agent, except_chat=chat, now=now)
        if target == S.ACTIVE:
            chat.state = S.ACTIVE
            chat.activated_at = now
            chat.park_reason = ""
            if chat.answered_at is None:
                chat.answered_at = now
        else:
            chat.park_reason = ""
            _enter_landing(chat, target, now)
        chat.unseen = False
        chat.save()
        _tell_inbox(out, chat, agent.pk)
        _tell_presence(out, agent)
        _tell_customer(out, chat)
        out.send_on_commit()
    if chat.state == S.CLOSED:
        offer_work(agent=agent)
    return chat


def _park_active_items(
    out: Outbox,
    agent: Membership,
    *,
    except_chat: Chat | None,
    now: datetime,
    reason: str = ParkReason.MANUAL,
) -> list[Chat]:
    """Park the agent's active chat and pause an active wrap-up. The caller holds the agent's lock."""
    active = (
        Chat.objects.select_for_update(no_key=True, of=("self",))
        .select_related("queue")
        .filter(agent=agent, state__in=(S.ACTIVE, S.WRAPUP))
    )
    if except_chat is not None:
        active = active.exclude(pk=except_chat.pk)
    parked = []
    for other in active.order_by("pk"):
        _park(other, now, reason)
        other.save()
        _tell_inbox(out, other, agent.pk)
        parked.append(other)
    return parked


def _park(chat: Chat, now: datetime, reason: str) -> None:
    target = target_state("park", chat.state)
    if chat.state == S.ACTIVE:
        _stop_handle_clock(chat, now)
        chat.park_reason = reason
    else:
        _pause_wrapup(chat, now)
        chat.park_reason = reason
    chat.state = target


def chat_park(*, agent: Membership, chat_id, reason: str = ParkReason.MANUAL) -> Chat:
    """Park the active chat (its handle time kept) or pause an active wrap-up (its countdown kept).

    Locks the agent, then the chat.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent, chat = _lock_agents_chat(agent.pk, chat_id)
        was_wrapup = chat.state == S.WRAPUP
        _park(chat, now, reason)
        chat.save()
        _tell_inbox(out, chat, agent.pk)
        _tell_presence(out, agent)
        out.send_on_commit()
    if was_wrapup:
        # A parked wrap-up does not hold back calls.
        route_calls(company_id=agent.company_id)
    return chat


def chat_put_back(*, agent: Membership, chat_id) -> Chat:
    """Return a chat in the inbox, active or parked to its queue. Locks the agent, then the chat."""
    return _requeue(agent=agent, chat_id=chat_id, action="put_back", queue_id=None)


def chat_transfer(*, agent: Membership, chat_id, queue_id: int) -> Chat:
    """Move a chat in the inbox, active or parked to another queue the agent serves, history kept.

    Locks the agent, then the chat.
    """
    return _requeue(agent=agent, chat_id=chat_id, action="transfer", queue_id=queue_id)


def _requeue(*, agent: Membership, chat_id, action: str, queue_id: int | None) -> Chat:
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent, chat = _lock_agents_chat(agent.pk, chat_id)
        target = target_state(action, chat.state)
        if chat.ended_at is not None:
            raise TransitionError("customer_left", "The customer has left: activate the chat to wrap it up.")
        old_queue = chat.queue
        if queue_id is None:
            if not _lock_queues_to_wait_in([old_queue.pk])[old_queue.pk].enabled:
                raise TransitionError(
                    "queue_disabled", "This chat's queue is disabled: transfer it to another queue."
                )
        else:
            new_queue = _lock_queues_to_wait_in(
                WebchatQueue.objects.filter(pk=queue_id, company_id=agent.company_id).values("pk")
            ).get(queue_id)
            if new_queue is None or not selectors.agent_serves_queue(agent, new_queue):
                raise TransitionError(
                    "queue_not_visible", "You can only transfer to queues you serve.", status=404
                )
            if new_queue.pk == old_queue.pk:
                raise TransitionError("same_queue", "The chat is already in that queue.")
            chat.queue = new_queue
        _stop_handle_clock(chat, now)
        chat.state = target
        chat.agent = None
        chat.returned_by = agent
        chat.park_reason = ""
        chat.unseen = False
        chat.save()
        queue_name = chat.queue.name
        text = (
            f"Transferred to {queue_name}."
            if action == "transfer"
            else f"Returned to the {queue_name} queue."
        )
        _system_message(out, chat, text, now)
        _tell_inbox(out, chat, agent.pk)
        _tell_presence(out, agent)
        _tell_queue(out, old_queue)
        _tell_queue(out, chat.queue)
        _tell_customer(out, chat)
        out.add_positions(chat.queue_id)
        out.send_on_commit()
    allocate_queues(queue_ids={chat.queue_id, *_agent_queue_ids(agent)})
    return chat


def _agent_queue_ids(agent: Membership) -> list[int]:
    return list(
        selectors.queues_visible_to(agent)
        .filter(auto_allocate=True, chats__state=S.QUEUED)
        .values_list("pk", flat=True)
        .distinct()
    )


def chat_end(*, agent: Membership, chat_id) -> Chat:
    """The agent ends their active chat: wrap-up starts (or the chat closes where wrap-up is off).

    Locks the agent, then the chat.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent, chat = _lock_agents_chat(agent.pk, chat_id)
        target = _landing(chat, target_state("end", chat.state))
        _mark_ended(chat, now, EndedBy.AGENT)
        chat.customer_waiting_since = None
        chat.reply_overdue = False
        _enter_landing(chat, target, now)
        chat.save()
        _system_message(out, chat, f"{agent.name} ended the chat.", now)
        _tell_customer(out, chat)
        _tell_inbox(out, chat, agent.pk)
        _tell_presence(out, agent)
        out.send_on_commit()
    if chat.state == S.CLOSED:
        offer_work(agent=agent)
    return chat


def wrapup_extend(*, agent: Membership, chat_id) -> Chat:
    """Add Wrap-up Extension Time to the running countdown, at most Wrap-up Extensions times.

    Locks the agent, then the chat.
    """
    out = Outbox()
    with transaction.atomic():
        agent, chat = _lock_agents_chat(agent.pk, chat_id)
        target_state("extend", chat.state)
        if chat.wrapup_extensions_used >= chat.queue.wrapup_extensions:
            raise TransitionError("no_extensions_left", "No wrap-up extensions are left.")
        chat.wrapup_extensions_used += 1
        chat.wrapup_deadline += timedelta(seconds=chat.queue.wrapup_extension_seconds)
        chat.save(update_fields=["wrapup_extensions_used", "wrapup_deadline"])
        _tell_inbox(out, chat, agent.pk)
        _tell_presence(out, agent)
        out.send_on_commit()
    return chat


def wrapup_complete(
    *,
    agent: Membership,
    chat_id,
    notes: str | None = None,
    classification_id: int | None = None,
    classification_text: str | None = None,
) -> Chat:
    """The agent completes wrap-up (active or parked), optionally with notes and a classification.

    Locks the agent, then the chat. The chat closes and is logged in the CRM; freed capacity is allocated.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent, chat = _lock_agents_chat(agent.pk, chat_id)
        target_state("complete_wrapup", chat.state)
        _apply_details(
            chat, notes=notes, classification_id=classification_id, classification_text=classification_text
        )
        _close(chat, now, Outcome.COMPLETED)
        chat.save()
        _tell_inbox(out, chat, agent.pk)
        _tell_presence(out, agent)
        out.send_on_commit()
    offer_work(agent=agent)
    return chat


def expire_wrapups(*, now: datetime | None = None) -> int:
    """Complete every active wrap-up whose countdown has run out, each chat in its own transaction. Returns
    how many were completed."""
    now = now or _now()
    due = list(
        Chat.objects.filter(state=S.WRAPUP, wrapup_deadline__lte=now)
        .order_by("wrapup_deadline", "pk")
        .values_list("pk", "agent_id")[:500]
    )
    return _each("expire_wrapups", due, lambda item: _expire_wrapup(*item, now=now))


def _expire_wrapup(chat_id, agent_id: int, *, now: datetime) -> bool:
    """Locks the agent, then the chat."""
    out = Outbox()
    with transaction.atomic():
        _lock_agent(agent_id)
        chat = _lock_chat(chat_id)
        # Re-check under lock: the agent may have extended, parked or completed it meanwhile.
        if chat.agent_id != agent_id or chat.state != S.WRAPUP or chat.wrapup_deadline > now:
            return False
        target_state("expire_wrapup", chat.state)
        _close(chat, now, Outcome.COMPLETED)
        chat.save()
        _tell_inbox(out, chat, agent_id)
        _tell_agent(out, agent_id, type="presence")
        out.add_once(events.wallboard_group(chat.company_id), {"type": "wallboard"})
        out.send_on_commit()
    offer_work(agent_id=agent_id)
    return True


# ---------------------------------------------------------------------------------------------------------
# Details recorded during the chat or in wrap-up


def _apply_details(chat: Chat, *, notes, classification_id, classification_text) -> None:
    _require_storable(notes, what="notes")
    if classification_text is not None:
        _require_storable(classification_text.strip(), what="classification", limit=CLASSIFICATION_CHARS)
    if notes is not None:
        chat.notes = notes
    if classification_id is not None:
        chat.classification = _offered_classification(chat, classification_id)
        chat.classification_text = ""
    elif classification_text is not None:
        chat.classification_text = classification_text.strip()
        if chat.classification_text:
            chat.classification = None


def _offered_classification(chat: Chat, classification_id) -> Classification:
    classification = (
        Classification.objects.filter(pk=classification_id, company_id=chat.company_id)
        .prefetch_related("queues")
        .first()
    )
    if classification is None:
        raise TransitionError("unknown_classification", "No such classification.", status=400)
    queue_ids = {q.pk for q in classification.queues.all()}
    if queue_ids and chat.queue_id not in queue_ids:
        raise TransitionError(
            "unknown_classification", "This classification is not offered on this queue.", 400
        )
    return classification


def chat_record_details(
    *,
    agent: Membership,
    chat_id,
    notes: str | None = None,
    classification_id: int | None = None,
    classification_text: str | None = None,
) -> Chat:
    """Set notes and/or a classification on a chat the agent holds, during the chat or in wrap-up.

    Locks the agent, then the chat.
    """
    out = Outbox()
    with transaction.atomic():
        agent, chat = _lock_agents_chat(agent.pk, chat_id)
        if chat.state not in EDITABLE_STATES:
            raise TransitionError("closed", "This chat is closed.")
        _apply_details(
            chat, notes=notes, classification_id=classification_id, classification_text=classification_text
        )
        chat.save(update_fields=["notes", "classification", "classification_text"])
        _tell_agent(out, agent.pk, type="chat", chat_id=str(chat.pk), state=chat.state)
        out.send_on_commit()
    return chat


def chat_assign_contact(*, agent: Membership, chat_id, contact_id: int | None) -> Chat:
    """Identify the customer: link the chat to a contact of the company (None unlinks).

    Locks the agent, then the chat.
    """
    out = Outbox()
    with transaction.atomic():
        agent, chat = _lock_agents_chat(agent.pk, chat_id)
        if chat.state not in EDITABLE_STATES:
            raise TransitionError("closed", "This chat is closed.")
        contact = None
        if contact_id is not None:
            contact = Contact.objects.filter(pk=contact_id, company_id=agent.company_id).first()
            if contact is None:
                raise TransitionError("unknown_contact", "No such contact.", status=404)
        chat.contact = contact
        if contact is not None and not chat.customer_name:
            chat.customer_name = contact.name[:80]
        chat.save(update_fields=["contact", "customer_name"])
        _tell_agent(out, agent.pk, type="chat", chat_id=str(chat.pk), state=chat.state)
        _tell_agent(out, agent.pk, type="inbox")
        out.send_on_commit()
    return chat


def chat_flag_abusive(*, agent: Membership, chat_id, abusive: bool = True) -> Chat:
    """Flag (or unflag) the chat as abusive; the flag goes into the contact's history. Locks agent, chat."""
    out = Outbox()
    with transaction.atomic():
        agent, chat = _lock_agents_chat(agent.pk, chat_id)
        if chat.state not in EDITABLE_STATES:
            raise TransitionError("closed", "This chat is closed.")
        chat.abusive = abusive
        chat.save(update_fields=["abusive"])
        _tell_agent(out, agent.pk, type="chat", chat_id=str(chat.pk), state=chat.state)
        out.send_on_commit()
    return chat


# ---------------------------------------------------------------------------------------------------------
# Agent presence


def agent_login(*, agent: Membership) -> Membership:
    """The agent logged in: Available, and waiting chats of their queues are offered. Locks the agent."""
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent = _lock_agent(agent)
        if agent.presence == Presence.UNAVAILABLE:
            agent.presence = Presence.AVAILABLE
            agent.break_reason = None
            agent.presence_since = now
        agent.last_seen_at = now
        agent.save(update_fields=["presence", "break_reason", "presence_since", "last_seen_at"])
        _tell_presence(out, agent)
        out.send_on_commit()
    offer_work(agent=agent)
    return agent


def agent_set_presence(*, agent: Membership, presence: str, break_reason_id: int | None = None) -> Membership:
    """The agent sets Available or Break (with one of the company's break reasons). Locks the agent."""
    now = _now()
    out = Outbox()
    if presence not in (Presence.AVAILABLE, Presence.BREAK):
        raise TransitionError("invalid_presence", "Choose Available or Break.", status=400)
    with transaction.atomic():
        agent = _lock_agent(agent)
        reason = None
        if presence == Presence.BREAK and break_reason_id is not None:
            reason = BreakReason.objects.filter(pk=break_reason_id, company_id=agent.company_id).first()
            if reason is None:
                raise TransitionError("unknown_break_reason", "No such break reason.", status=400)
        if agent.presence != presence or agent.break_reason_id != (reason.pk if reason else None):
            agent.presence = presence
            agent.break_reason = reason
            agent.presence_since = now
        agent.last_seen_at = now
        agent.save(update_fields=["presence", "break_reason", "presence_since", "last_seen_at"])
        _tell_presence(out, agent)
        out.send_on_commit()
    if presence == Presence.AVAILABLE:
        offer_work(agent=agent)
    return agent


def agent_logout(
    *, agent: Membership | int, reason: str = "logged out", unseen_since: datetime | None = None
) -> Membership | None:
    """The agent logs out (or is treated so after losing every connection).

    Locks the agent, then every chat they hold (by primary key), then the queues those chats return to and
    their fallback queues (by primary key). Inbox, active and parked chats return to their current queue at
    the front with their original queued time; one whose queue has been disabled goes to that queue's
    fallback queue, or is closed (refused) with a message to the customer, as its waiting chats were; a
    chat the customer already left is closed; chats in wrap-up are completed. The agent becomes Unavailable.
    With `unseen_since`, nothing happens (None is returned) unless, under the lock, the agent is still
    logged in and unseen since then.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent = _lock_agent(agent)
        if unseen_since is not None and (
            agent.presence == Presence.UNAVAILABLE
            or (agent.last_seen_at and agent.last_seen_at >= unseen_since)
        ):
            return None
        held = list(
            Chat.objects.select_for_update(no_key=True, of=("self",))
            .select_related("queue")
            .filter(agent=agent, state__in=HELD_STATES)
            .order_by("pk")
        )
        returning_to = {
            chat.queue_id
            for chat in held
            if TRANSITIONS["release"][chat.state] == S.QUEUED and chat.ended_at is None
        }
        # Their fallback queues too, in the same statement: every lock of queues is taken in one order.
        fallback_ids = WebchatQueue.objects.filter(pk__in=returning_to, fallback_queue__isnull=False)
        queues = _lock_queues_to_wait_in(
            returning_to | set(fallback_ids.values_list("fallback_queue_id", flat=True))
        )
        requeued_queues: dict[int, WebchatQueue] = {}
        for chat in held:
            target = target_state("release", chat.state)
            if target == S.QUEUED and chat.ended_at is not None:
                target = S.CLOSED
            if target == S.QUEUED and not queues[chat.queue_id].enabled:
                # Its queue was disabled while the agent held it: it waits where that queue's waiting chats
                # went, or ends as they did.
                fallback = queues.get(queues[chat.queue_id].fallback_queue_id)
                if fallback is not None and fallback.enabled and fallback.company_id == chat.company_id:
                    chat.queue = fallback
                else:
                    _stop_handle_clock(chat, now)
                    chat.agent = agent
                    _system_message(out, chat, QUEUE_CLOSED, now)
                    _close(chat, now, Outcome.REFUSED)
                    chat.save()
                    _tell_customer(out, chat)
                    continue
            if target == S.QUEUED:
                _stop_handle_clock(chat, now)
                chat.state = S.QUEUED
                chat.agent = None
                chat.queue_priority = 1
                chat.park_reason = ""
                chat.unseen = False
                chat.save()
                requeued_queues[chat.queue_id] = chat.queue
                _system_message(out, chat, "Your chat is waiting for the next available agent.", now)
                _tell_customer(out, chat)
            else:
                _stop_handle_clock(chat, now)
                _close(chat, now, Outcome.COMPLETED)
                chat.save()
        agent.presence = Presence.UNAVAILABLE
        agent.break_reason = None
        agent.presence_since = now
        agent.save(update_fields=["presence", "break_reason", "presence_since"])
        ringing = list(
            Call.objects.select_for_update(no_key=True, of=("self",)).filter(agent=agent, state=C.OFFERED)
        )
        for call in ringing:
            call.state = call_target("ring_out", call.state)
            call.agent = None
            call.offer_deadline = None
            call.save()
            _tell_call(out, call, agent.pk)
        for queue in requeued_queues.values():
            _tell_queue(out, queue)
            out.add_positions(queue.pk)
        _tell_agent(out, agent.pk, type="inbox")
        _tell_presence(out, agent)
        out.send_on_commit()
    logger.info(
        "agent %s %s; %d chat(s) released",
        agent.pk,
        reason,
        len(held),
        extra={
            "agent_id": agent.pk,
            "company_id": agent.company_id,
            "chat_ids": [str(chat.pk) for chat in held],
        },
    )
    allocate_queues(queue_ids=requeued_queues)
    if ringing:
        route_calls(company_id=agent.company_id)
    return agent


def agent_seen(*, agent_id: int, now: datetime | None = None) -> None:
    """A sign of life from one of the agent's connections (connect, heartbeat, disconnect).

    A plain column update without a lock: it changes no state, and the lost-connection job re-reads it
    under the agent's lock before acting.
    """
    # Written out rather than built by the ORM: every agent socket sends one every few seconds.
    _update(Membership, agent_id, {"last_seen_at": now or _now()})


def expire_lost_connections(*, now: datetime | None = None) -> int:
    """Treat as logged out every agent not seen for the grace period, each in its own transaction. Returns
    how many were logged out."""
    now = now or _now()
    cutoff = now - timedelta(seconds=settings.AGENT_CONNECTION_GRACE_SECONDS)
    stale = list(
        Membership.objects.exclude(presence=Presence.UNAVAILABLE)
        .filter(last_seen_at__lt=cutoff)
        .order_by("last_seen_at", "pk")
        .values_list("pk", flat=True)
    )
    return _each(
        "expire_lost_connections",
        stale,
        lambda agent_id: agent_logout(agent=agent_id, reason="lost every connection", unseen_since=cutoff),
    )


# ---------------------------------------------------------------------------------------------------------
# Periodic flags and sweeps


def flag_reply_alerts(*, now: datetime | None = None) -> int:
    """Flag chats whose customer has waited for a reply longer than the queue's limit, and tell the agent;
    each queue in its own transaction. Returns how many chats were flagged."""
    now = now or _now()
    waiting = (
        Chat.objects.filter(state__in=HELD_STATES, reply_overdue=False, customer_waiting_since__isnull=False)
        .order_by()  # DISTINCT over the model's ordering too would give one row per chat
        .values_list("queue_id", flat=True)
        .distinct()
    )
    queues = WebchatQueue.objects.filter(pk__in=list(waiting)).order_by("pk")
    flagged = 0

    def flag(queue: WebchatQueue) -> None:
        nonlocal flagged
        flagged += _flag_reply_alerts_of(queue, now=now)

    _each("flag_reply_alerts", list(queues), flag)
    return flagged


def _flag_reply_alerts_of(queue: WebchatQueue, *, now: datetime) -> int:
    cutoff = now - timedelta(seconds=queue.reply_alert_seconds)
    due = Chat.objects.filter(
        queue=queue,
        state__in=HELD_STATES,
        reply_overdue=False,
        customer_waiting_since__lte=cutoff,
    )
    rows = list(due.values_list("pk", "agent_id"))
    if not rows:
        return 0
    out = Outbox()
    with transaction.atomic():
        # A reply that lands meanwhile clears customer_waiting_since: the filter re-checks it.
        Chat.objects.filter(pk__in=[pk for pk, _ in rows], customer_waiting_since__lte=cutoff).update(
            reply_overdue=True
        )
        for chat_id, agent_id in rows:
            _tell_agent(out, agent_id, type="alert", chat_id=str(chat_id))
            _tell_agent(out, agent_id, type="inbox")
        out.send_on_commit()
    return len(rows)


def sweep_allocation() -> int:
    """Allocate whatever is waiting in every auto-allocating queue, each queue in its own transaction:
    catches what triggers missed. Returns how many chats were allocated."""
    queue_ids = list(
        Chat.objects.filter(state=S.QUEUED, queue__auto_allocate=True, queue__enabled=True)
        .order_by()  # DISTINCT over the model's ordering too would give one row per waiting chat
        .values_list("queue_id", flat=True)
        .distinct()
    )
    allocated = 0

    def allocate(queue_id: int) -> None:
        nonlocal allocated
        allocated += len(allocate_after_change(queue_id=queue_id))

    _each("sweep_allocation", sorted(queue_ids), allocate)
    return allocated


def _each(job: str, items: Iterable, handle: Callable[[Any], object]) -> int:
    """Run a periodic job's (or a sweep's) `handle` on each item in its own transaction
    (runtime.periodic); a race lost to another transition is no failure."""
    return periodic.each(job, items, handle, log=logger, expected=(TransitionError,))


# ---------------------------------------------------------------------------------------------------------
# Configuration changes that reach live work


@dataclass(frozen=True)
class DisabledQueue:
    queue: WebchatQueue
    moved: list[Chat]  # now waiting in the fallback queue
    ended: list[Chat]  # closed, the customer told why


def queue_disable(*, queue_id: int) -> DisabledQueue:
    """Disable a webchat queue: it takes no new chats, and its waiting chats are handed on.

    Locks the queue and its fallback queue (by primary key, as chat_open locks a queue, so no chat opens in
    either meanwhile), then the queue's waiting chats (by primary key; a chat being taken or allocated at
    this moment is waited for, and passed over if it is no longer waiting). Each waiting chat moves to the
    fallback queue if the queue has an enabled one, keeping its time in the queue (its place among the
    fallback queue's chats follows from it), or else is closed with outcome refused; either way the customer
    is told in a system message. Chats held by agents stay with them. Disabling a disabled queue hands on
    whatever still waits in it. The fallback queue allocates after the transaction.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        queue = WebchatQueue.objects.filter(pk=queue_id).values_list("pk", "fallback_queue_id").first()
        if queue is None:
            raise TransitionError("unknown_queue", "No such queue.", status=404)
        locked = {
            row.pk: row
            for row in WebchatQueue.objects.select_for_update(no_key=True, of=("self",))
            .select_related("company")
            .filter(pk__in=[pk for pk in queue if pk is not None])
            .order_by("pk")
        }
        queue = locked[queue_id]
        fallback = locked.get(queue.fallback_queue_id)
        if fallback is None and queue.fallback_queue_id is not None:
            # The fallback changed between the read and the lock: follow the one now stored.
            fallback = (
                WebchatQueue.objects.select_for_update(no_key=True, of=("self",))
                .filter(pk=queue.fallback_queue_id)
                .first()
            )
        if fallback is not None and (not fallback.enabled or fallback.company_id != queue.company_id):
            fallback = None
        if queue.enabled:
            queue.enabled = False
            queue.save(update_fields=["enabled"])
        waiting = list(
            Chat.objects.select_for_update(no_key=True, of=("self",))
            .select_related("queue")
            .filter(queue=queue, state=S.QUEUED)
            .order_by("pk")
        )
        moved, ended = [], []
        for chat in waiting:
            if fallback is not None:
                chat.state = target_state("to_fallback", chat.state)
                chat.queue = fallback
                chat.save(update_fields=["state", "queue"])
                _system_message(out, chat, MOVED_TO_FALLBACK, now)
                moved.append(chat)
            else:
                target_state("queue_closed", chat.state)
                _system_message(out, chat, QUEUE_CLOSED, now)
                _close(chat, now, Outcome.REFUSED)
                chat.save()
                ended.append(chat)
            _tell_customer(out, chat)
        _tell_queue(out, queue)
        if moved:
            _tell_queue(out, fallback)
            out.add_positions(fallback.pk)
        out.send_on_commit()
    logger.info(
        "queue %s disabled: %d waiting chat(s) moved to queue %s, %d ended",
        queue.pk,
        len(moved),
        fallback.pk if fallback else None,
        len(ended),
        extra={
            "queue_id": queue.pk,
            "company_id": queue.company_id,
            "moved": [str(chat.pk) for chat in moved],
            "ended": [str(chat.pk) for chat in ended],
        },
    )
    if moved and fallback.auto_allocate:
        allocate_queues(queue_ids=[fallback.pk])
    return DisabledQueue(queue=queue, moved=moved, ended=ended)


# ---------------------------------------------------------------------------------------------------------
# Voice calls. A call is waiting, offered (ringing at one agent), connected, in call wrap-up, or closed.
# Calls have priority over chats by default: a busy agent (active chat, not in chat wrap-up) is offered a
# call only when no idle agent is free, and the call parks the chat until the call is finished.


CALL_TRANSITIONS: dict[str, dict[str, str]] = {
    "offer": {C.WAITING: C.OFFERED},
    "ring_out": {C.OFFERED: C.WAITING},
    "decline": {C.OFFERED: C.WAITING},
    "answer": {C.WAITING: C.CONNECTED, C.OFFERED: C.CONNECTED},
    "end": {C.WAITING: C.CLOSED, C.OFFERED: C.CLOSED, C.CONNECTED: C.WRAPUP},
    "complete_wrapup": {C.WRAPUP: C.CLOSED},
}


def call_target(action: str, state: str) -> str:
    try:
        return CALL_TRANSITIONS[action][state]
    except KeyError:
        raise TransitionError(
            "call_" + action, f"The call cannot be handled that way now ({state})."
        ) from None


def _lock_call(call_id: int, *, company_id: int) -> Call:
    call = (
        Call.objects.select_for_update(no_key=True, of=("self",))
        .select_related("queue", "company")
        .filter(pk=call_id, company_id=company_id)
        .first()
    )
    if call is None:
        raise TransitionError("unknown_call", "No such call.", status=404)
    return call


def _find_call(company_id: int, pbx_call_id: str) -> Call:
    call = Call.objects.filter(company_id=company_id, pbx_call_id=pbx_call_id).only("pk", "agent_id").first()
    if call is None:
        raise TransitionError("unknown_call", "No such call.", status=404)
    return call


def _first_time(company_id: int, pbx_call_id: str, event: str) -> bool:
    """Record a telephony event; False when it was already recorded (a repeat changes nothing)."""
    _, created = TelephonyEvent.objects.get_or_create(
        company_id=company_id, pbx_call_id=pbx_call_id, event=event
    )
    return created


def _tell_call(out: Outbox, call: Call, agent_id: int | None) -> None:
    _tell_agent(out, agent_id, type="call", call_id=call.pk, state=call.state)
    _tell_agent(out, agent_id, type="presence")
    out.add_once(events.wallboard_group(call.company_id), {"type": "wallboard"})


def call_arrived(*, company_id: int, pbx_call_id: str, queue_slug: str, caller_number: str = "") -> Call:
    """The telephony system tells of a new call on a voice queue; it is routed at once.

    A repeated event returns the call as it is.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        queue = VoiceQueue.objects.filter(company_id=company_id, slug=queue_slug).first()
        if queue is None:
            raise TransitionError("unknown_queue", "No such voice queue.", status=404)
        if not _first_time(company_id, pbx_call_id, "call.arrived"):
            return Call.objects.get(company_id=company_id, pbx_call_id=pbx_call_id)
        call = Call.objects.create(
            company_id=company_id,
            queue=queue,
            pbx_call_id=pbx_call_id,
            caller_number=caller_number,
            arrived_at=now,
        )
        out.add_once(events.wallboard_group(company_id), {"type": "wallboard"})
        out.send_on_commit()
    route_calls(company_id=company_id)
    call.refresh_from_db()
    return call


def route_calls(*, company_id: int) -> list[Call]:
    """Offer the company's waiting calls, oldest first, each to the best eligible agent.

    Per call: locks the candidate agents in order of preference, re-checking each under its lock until one
    is still eligible, then locks the call.
    """
    offered = []
    waiting = Call.objects.filter(company_id=company_id, state=C.WAITING).order_by("arrived_at", "pk")

    def offer(call_id: int) -> None:
        call = _offer_call(call_id, company_id)
        if call is not None:
            offered.append(call)

    # Each call in its own transaction: one that cannot be offered does not hold up the others.
    _each("route_calls", list(waiting.values_list("pk", flat=True)[:100]), offer)
    return offered


def _offer_call(call_id: int, company_id: int) -> Call | None:
    now = _now()
    out = Outbox()
    with transaction.atomic():
        call = Call.objects.select_related("company").get(pk=call_id)
        ranked = list(selectors.call_candidates(call).values_list("pk", flat=True)[:20])
        agent = None
        for candidate in ranked:
            # Wait for an agent busy in another transition (they are short) rather than pass them over:
            # the best agent for the call may be the one who is taking a chat right now. An agent found
            # no longer eligible is unlocked again (savepoint rollback), so at most one is held.
            try:
                with transaction.atomic():
                    locked = _lock_agent(candidate)
                    if not selectors.call_candidates(call).filter(pk=candidate).exists():
                        raise _ChangedHands
            except _ChangedHands:
                continue
            agent = locked
            break
        if agent is None:
            return None
        call = _lock_call(call_id, company_id=company_id)
        if call.state != C.WAITING:
            return None
        call.state = call_target("offer", call.state)
        call.agent = agent
        call.offered_at = now
        call.offer_deadline = now + timedelta(seconds=call.queue.ring_timeout_seconds)
        call.save()
        _tell_call(out, call, agent.pk)
        out.send_on_commit()
        transaction.on_commit(
            lambda: telephony.send_offer(company_id=company_id, call_id=call.pk, agent_id=agent.pk)
        )
    logger.info(
        "call %s offered to agent %s",
        call.pk,
        agent.pk,
        extra={"call_id": call.pk, "agent_id": agent.pk, "company_id": company_id},
    )
    return call


def call_answer(*, agent: Membership, call_id: int) -> Call:
    """The agent answers (the Answer button, or the telephony system saying they picked up).

    Locks the agent, then the call, then the agent's active chat, which parks (reason: interrupted) until
    the call and its wrap-up are finished; an active chat wrap-up pauses the same way.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent = _lock_agent(agent)
        call = _lock_call(call_id, company_id=agent.company_id)
        if call.state == C.OFFERED and call.agent_id != agent.pk:
            raise TransitionError("not_yours", "This call is ringing for someone else.", status=404)
        call.state = call_target("answer", call.state)
        call.agent = agent
        call.answered_at = now
        call.offer_deadline = None
        parked = _park_active_items(out, agent, except_chat=None, now=now, reason=ParkReason.INTERRUPTED)
        if parked:
            call.interrupted_chat = parked[0]
            for chat in parked:
                _tell_customer(out, chat)
        call.save()
        _tell_call(out, call, agent.pk)
        out.send_on_commit()
    return call


def call_answered_by_pbx(*, company_id: int, pbx_call_id: str, username: str) -> Call:
    """The telephony system says an agent picked the call up on their phone. A repeat changes nothing."""
    agent = Membership.objects.filter(company_id=company_id, user__username=username).first()
    if agent is None:
        raise TransitionError("unknown_agent", "No such agent.", status=404)
    call = _find_call(company_id, pbx_call_id)
    with transaction.atomic():
        if not _first_time(company_id, pbx_call_id, "call.answered"):
            return Call.objects.get(pk=call.pk)
        try:
            return call_answer(agent=agent, call_id=call.pk)
        except TransitionError as refusal:
            if refusal.code == "call_answer":
                # Answered after it ended (events out of order): the end stands.
                return Call.objects.get(pk=call.pk)
            raise


def call_hang_up(*, agent: Membership, call_id: int) -> Call:
    """Hang up: a ringing call is declined and offered to the next agent; a connected call ends."""
    call = Call.objects.filter(pk=call_id, company_id=agent.company_id, agent=agent).first()
    if call is None:
        raise TransitionError("unknown_call", "No such call.", status=404)
    if call.state == C.OFFERED:
        return _ring_out(agent_id=agent.pk, call_id=call.pk, action="decline")
    return _end_call(company_id=agent.company_id, call_id=call.pk)


def call_ended_by_pbx(*, company_id: int, pbx_call_id: str) -> Call:
    """The telephony system says the call ended. A repeat changes nothing."""
    call = _find_call(company_id, pbx_call_id)
    with transaction.atomic():
        if not _first_time(company_id, pbx_call_id, "call.ended"):
            return Call.objects.get(pk=call.pk)
        current = Call.objects.get(pk=call.pk)
        if current.state in (C.WRAPUP, C.CLOSED):
            return current
        return _end_call(company_id=company_id, call_id=call.pk)


def _end_call(*, company_id: int, call_id: int) -> Call:
    """Locks the call's agent, then the call. Connected: call wrap-up (or closed when the queue has none).
    Waiting or ringing: closed, the caller having hung up."""
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent_id = Call.objects.filter(pk=call_id).values_list("agent_id", flat=True).get()
        agent = _lock_agent(agent_id) if agent_id else None
        call = _lock_call(call_id, company_id=company_id)
        target = call_target("end", call.state)
        call.ended_at = now
        call.offer_deadline = None
        if target == C.WRAPUP and call.queue.wrapup_seconds:
            call.state = C.WRAPUP
            call.wrapup_deadline = now + timedelta(seconds=call.queue.wrapup_seconds)
        else:
            outcome = "completed" if call.answered_at else "abandoned"
            _close_call(out, call, agent, now, outcome)
        call.save()
        _tell_call(out, call, agent_id)
        out.send_on_commit()
    if call.state == C.CLOSED and agent_id is not None:
        offer_work(agent_id=agent_id)
    return call


def _close_call(out: Outbox, call: Call, agent: Membership | None, now: datetime, outcome: str) -> None:
    """Close the call, log it in the CRM and resume the chat it interrupted. The caller holds the agent."""
    call.state = C.CLOSED
    call.outcome = outcome
    call.closed_at = now
    call.wrapup_deadline = None
    handle = (call.ended_at - call.answered_at).total_seconds() if call.answered_at and call.ended_at else 0.0
    Interaction.objects.create(
        company_id=call.company_id,
        contact_id=call.contact_id,
        channel=Channel.VOICE,
        queue_name=call.queue.name,
        voice_queue_id=call.queue_id,
        agent=agent if call.answered_at else None,
        agent_name=agent.name if agent and call.answered_at else "",
        caller_number=call.caller_number,
        opened_at=call.arrived_at,
        answered_at=call.answered_at,
        ended_at=call.ended_at,
        closed_at=now,
        handle_seconds=round(handle, 3),
        wrapup_seconds=round((now - call.ended_at).total_seconds(), 3) if call.ended_at else 0.0,
        classification_id=call.classification_id,
        notes=call.notes,
        outcome=outcome,
    )
    if agent is not None and call.interrupted_chat_id:
        _resume_interrupted(out, agent, call.interrupted_chat_id, now)


def _resume_interrupted(out: Outbox, agent: Membership, chat_id, now: datetime) -> None:
    """The chat a call interrupted becomes active again by itself, or enters wrap-up if the customer ended
    it meanwhile. Nothing happens if the agent has since moved it on."""
    chat = (
        Chat.objects.select_for_update(no_key=True, of=("self",))
        .select_related("queue")
        .filter(pk=chat_id)
        .first()
    )
    if chat is None or chat.agent_id != agent.pk or chat.park_reason != ParkReason.INTERRUPTED:
        return
    if chat.state not in (S.PARKED, S.WRAPUP_PARKED):
        return
    target = _landing(chat, target_state("activate", chat.state))
    chat.park_reason = ""
    if target == S.ACTIVE:
        chat.state = S.ACTIVE
        chat.activated_at = now
    else:
        _enter_landing(chat, target, now)
    chat.save()
    _tell_inbox(out, chat, agent.pk)
    _tell_customer(out, chat)


def call_wrapup_complete(
    *, agent: Membership, call_id: int, notes: str | None = None, classification_id: int | None = None
) -> Call:
    """The agent completes the call's wrap-up. Locks the agent, then the call."""
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent = _lock_agent(agent)
        call = _lock_call(call_id, company_id=agent.company_id)
        if call.agent_id != agent.pk:
            raise TransitionError("not_yours", "This call is not yours.", status=404)
        call_target("complete_wrapup", call.state)
        _require_storable(notes, what="notes")
        if notes is not None:
            call.notes = notes
        if classification_id is not None:
            classification = Classification.objects.filter(
                pk=classification_id, company_id=agent.company_id
            ).first()
            if classification is None:
                raise TransitionError("unknown_classification", "No such classification.", status=400)
            call.classification = classification
        _close_call(out, call, agent, now, "completed")
        call.save()
        _tell_call(out, call, agent.pk)
        out.send_on_commit()
    offer_work(agent=agent)
    return call


def _ring_out(*, agent_id: int, call_id: int, action: str, now: datetime | None = None) -> Call:
    """Take the offer back from the agent (rang out or declined) and offer the call to the next agent."""
    now = now or _now()
    out = Outbox()
    with transaction.atomic():
        agent = _lock_agent(agent_id)
        call = _lock_call(call_id, company_id=agent.company_id)
        if call.agent_id != agent.pk:
            raise TransitionError("not_yours", "This call is not ringing for you.", status=404)
        if action == "ring_out" and (call.state != C.OFFERED or call.offer_deadline > now):
            return call
        call.state = call_target(action, call.state)
        call.agent = None
        call.offer_deadline = None
        call.save()
        call.missed_by.add(agent)
        _tell_call(out, call, agent.pk)
        out.send_on_commit()
    route_calls(company_id=agent.company_id)
    call.refresh_from_db()
    return call


def expire_call_offers(*, now: datetime | None = None) -> int:
    """Ring-no-answer: offers past their ring timeout move on to the next agent, each call in its own
    transaction."""
    now = now or _now()
    due = list(
        Call.objects.filter(state=C.OFFERED, offer_deadline__lte=now)
        .order_by("offer_deadline", "pk")
        .values_list("pk", "agent_id")[:500]
    )
    return _each(
        "expire_call_offers",
        due,
        lambda item: _ring_out(agent_id=item[1], call_id=item[0], action="ring_out", now=now) or True,
    )


def expire_call_wrapups(*, now: datetime | None = None) -> int:
    """Complete call wrap-ups whose time has run out, each call in its own transaction."""
    now = now or _now()
    due = list(
        Call.objects.filter(state=C.WRAPUP, wrapup_deadline__lte=now)
        .order_by("wrapup_deadline", "pk")
        .values_list("pk", "agent_id")[:500]
    )
    return _each("expire_call_wrapups", due, lambda item: _expire_call_wrapup(*item, now=now))


def _expire_call_wrapup(call_id: int, agent_id: int, *, now: datetime) -> bool:
    """Locks the agent, then the call."""
    out = Outbox()
    with transaction.atomic():
        agent = _lock_agent(agent_id)
        call = _lock_call(call_id, company_id=agent.company_id)
        if call.state != C.WRAPUP or call.wrapup_deadline > now:
            return False
        _close_call(out, call, agent, now, "completed")
        call.save()
        _tell_call(out, call, agent_id)
        out.send_on_commit()
    offer_work(agent_id=agent_id)
    return True


def sweep_calls() -> int:
    """Offer waiting calls of every company, each company's on its own and each call in its own transaction
    (route_calls): catches what triggers missed."""
    waiting = Call.objects.filter(state=C.WAITING).order_by()  # no DISTINCT over the model's ordering
    companies = sorted(waiting.values_list("company_id", flat=True).distinct())
    offered = 0

    def route(company_id: int) -> None:
        nonlocal offered
        offered += len(route_calls(company_id=company_id))

    _each("sweep_calls", companies, route)
    return offered


def offer_work(*, agent_id: int | None = None, agent: Membership | None = None) -> None:
    """The agent may have room for more work: offer waiting calls and chats, in the company's priority.

    `agent`: the membership (with company and queue profile) that the caller's transition just saved, which
    spares reading it again; otherwise `agent_id`.
    """
    if agent is None:
        agent = Membership.objects.select_related("company", "queue_profile").filter(pk=agent_id).first()
        if agent is None:
            return
    # Calls wait only for voice agents: one who cannot take calls changes nothing for them.
    calls = agent.can_voice
    if agent.company.channel_priority == ChannelPriority.WEBCHAT_FIRST:
        allocate_for_agent(agent=agent)
        if calls:
            route_calls(company_id=agent.company_id)
    else:
        if calls:
            route_calls(company_id=agent.company_id)
        allocate_for_agent(agent=agent)
