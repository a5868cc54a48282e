"""The message path's statements, written out.

Storing a message is the product's hottest path, and building its statements through the ORM cost more CPU
than PostgreSQL spent running them (0.68 ms for the lock, 0.89 ms for the client-id check, against 0.07 ms
for a round trip). Its statements (lock, client-id check, insert, update) are written out here from the
models' own table and column names, once per database, with each field's own conversion of its values.
Each statement names the ORM call it stands for (as Zulip does for its hand-written SQL): that call is
what it means, and what a change to it is checked against.
"""

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connection, connections

from routing.engine.rules import TransitionError
from webchat.models import Chat, Message

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
        # Equivalent ORM: Chat.objects.select_for_update(no_key=True).only(*MESSAGE_CHAT_FIELDS)
        # .get(pk=chat_id), with .filter(company_id=company_id) for lock_in_company.
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
        message_text = self._columns(db, Message, "text")[0]
        # Equivalent ORM: Message.objects.filter(chat_id=chat_id, client_id=client_id)
        # .values_list("pk", Q(text=text)) (the row's id, and whether it holds the same text).
        self.existing = (
            f"SELECT {message_pk}, {message_text} = %s FROM {message_table} "
            f"WHERE {message_chat} = %s AND {message_client} = %s"
        )
        self.message_fields = [Message._meta.get_field(name) for name in MESSAGE_FIELDS]
        columns = ", ".join(quote(field.column) for field in self.message_fields)
        placeholders = ", ".join(["%s"] * len(self.message_fields))
        self.returning = db.features.can_return_columns_from_insert
        # Equivalent ORM: message.save(force_insert=True), its fields being MESSAGE_FIELDS.
        self.insert = f"INSERT INTO {message_table} ({columns}) VALUES ({placeholders})"
        if self.returning:
            self.insert += f" RETURNING {message_pk}"
        self.chat_update_fields = [Chat._meta.get_field(name) for name in MESSAGE_CHAT_UPDATE_FIELDS]
        # Equivalent ORM: chat.save(update_fields=MESSAGE_CHAT_UPDATE_FIELDS).
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
    and its message statements. Equivalent ORM: none, the ORM builds its statements on each call."""
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


MESSAGE_FIELDS = (
    "chat",
    "seq",
    "client_id",
    "sender",
    "agent",
    "agent_name",
    "text",
    "agent_text",
    "sent_at",
)
# What storing a message changes of its chat.
MESSAGE_CHAT_UPDATE_FIELDS = ("last_seq", "customer_waiting_since", "reply_overdue")


def _insert_message(message: Message, chat: Chat) -> None:
    """INSERT the message and write back what storing it changed of its chat (locked by
    `_lock_chat_for_message`), and set the message's primary key, as `save()` would.

    Equivalent ORM: message.save(force_insert=True); chat.save(update_fields=MESSAGE_CHAT_UPDATE_FIELDS).
    """
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
    """UPDATE of these fields of one row, by primary key; the values, then the key, as parameters.

    Equivalent ORM: model.objects.filter(pk=pk).update(**values).
    """
    quote = db.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    return f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(model._meta.pk.column)} = %s"


def _update(model, pk, values: dict) -> None:
    """UPDATE these columns of one row, without building the statement through the ORM.

    Equivalent ORM: model.objects.filter(pk=pk).update(**values).
    """
    meta = model._meta
    fields = [meta.get_field(name) for name in values]
    params = [field.get_db_prep_save(values[field.name], connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            _update_sql(connection, model, fields), [*params, meta.pk.get_db_prep_value(pk, connection)]
        )
