"""interactions.csv's rows, written two ways with the same bytes: by PostgreSQL's own CSV writer
(`COPY (SELECT ...) TO STDOUT`, the product's database) and in Python from plain rows (the embedded SQLite
of `make run`). `csv_batches` is the Python writer of every export.

Both read the same columns of the same queryset, `queries.interactions(filters)` with its arrival queues,
agent, contact and classification joined (`raw_rows`), so the filters apply to both alike. PostgreSQL
formats them as the Python writer does (`csv_row`): ISO 8601 in UTC with a Z, microseconds only when there
are any; seconds as Python writes a float (`30.0`, `12.345`, `1e-05`); empty fields for nothing (never `""`);
a text starting with `=`, `+`, `-`, `@`, a tab or a carriage return written after a `'` (a spreadsheet would
run it as a formula); lines ending in CRLF, as `csv.writer` ends them (COPY ends them in LF: `copy_batches`
turns each row's last LF into CRLF; a line break inside a quoted field stays as it is, as in Python's).
Floats are written as PostgreSQL 12 and later print them (the shortest text that reads back the same
number, `extra_float_digits` above 0, the default), which is Python's `repr` but for integral values
(`30` becomes `30.0` here) and for numbers of a million billion and more.
"""

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator

from django.contrib.auth import get_user_model
from django.db import connections, transaction
from django.db.models import F, QuerySet

from reports import queries
from reports.filters import ReportFilters

# PROTOCOL.md section 7: interactions.csv's columns, in order.
INTERACTIONS_CSV_COLUMNS = (
    "interaction_id",
    "channel",
    "queue",
    "agent",
    "contact",
    "arrived_at",
    "answered_at",
    "ended_at",
    "closed_at",
    "wait_seconds",
    "handle_seconds",
    "wrapup_seconds",
    "outcome",
    "classification",
    "transfers",
    "csat_score",
)
# A spreadsheet runs a cell starting with one of these as a formula: such text is written with a
# leading apostrophe (customers choose their names).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Between a classification's code and its label, as `Classification.__str__` writes them.
CLASSIFICATION_SEPARATOR = " – "

# The columns read per interaction, in the order `csv_row` takes them (the COPY's SELECT names them so).
RAW_COLUMNS = (
    "id",
    "channel",
    "arrival_chat_queue_name",
    "arrival_voice_queue_name",
    "queue_name",
    "agent_id",
    "agent_username",
    "agent_name",
    "contact_id",
    "contact_name",
    "customer_name",
    "opened_at",
    "answered_at",
    "ended_at",
    "closed_at",
    "wait_seconds",
    "handle_seconds",
    "wrapup_seconds",
    "outcome",
    "classification_id",
    "classification_code",
    "classification_label",
    "classification_text",
    "transfers",
)


def raw_rows(filters: ReportFilters) -> QuerySet:
    """The filters' interactions (`queries.interactions`, in its order) as tuples of RAW_COLUMNS, then the
    rating when interactions hold one."""
    username = get_user_model().USERNAME_FIELD
    columns = RAW_COLUMNS + ((queries.CSAT_FIELD,) if queries._has_csat() else ())
    return (
        queries.interactions(filters)
        .annotate(
            arrival_chat_queue_name=F("arrival_webchat_queue__name"),
            arrival_voice_queue_name=F("arrival_voice_queue__name"),
            agent_username=F(f"agent__user__{username}"),
            contact_name=F("contact__name"),
            classification_code=F("classification__code"),
            classification_label=F("classification__label"),
        )
        .values_list(*columns)
    )


def utc_iso(moment: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, to the second (microseconds if any); None for no moment."""
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def csv_row(raw: tuple) -> tuple:
    """A raw_rows tuple as interactions.csv's fields: its arrival queue's name (the name it closed under if
    that queue is gone), the agent's username (the name kept if their membership is gone), the contact's
    name (else the name the customer gave), handle and wrap-up only when it was answered."""
    (
        pk,
        channel,
        chat_queue,
        voice_queue,
        queue_name,
        agent_id,
        username,
        agent_name,
        contact_id,
        contact_name,
        customer_name,
        opened_at,
        answered_at,
        ended_at,
        closed_at,
        wait_seconds,
        handle_seconds,
        wrapup_seconds,
        outcome,
        classification_id,
        code,
        label,
        classification_text,
        transfers,
        *rating,
    ) = raw
    answered = wait_seconds is not None
    queue = chat_queue if chat_queue is not None else voice_queue if voice_queue is not None else queue_name
    classification = f"{code}{CLASSIFICATION_SEPARATOR}{label}" if classification_id else classification_text
    return (
        pk,
        channel,
        queue,
        username if agent_id else agent_name or None,
        contact_name if contact_id else customer_name or None,
        utc_iso(opened_at),
        utc_iso(answered_at),
        utc_iso(ended_at),
        utc_iso(closed_at),
        wait_seconds,
        handle_seconds if answered else None,
        wrapup_seconds if answered else None,
        outcome,
        classification or None,
        transfers,
        rating[0] if rating else None,
    )


# --- PostgreSQL's writer -----------------------------------------------------------------------------------


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# The first characters that make a text a formula, as SQL strings (E'' for the tab and carriage return).
_FORMULA_STARTS_SQL = ", ".join(
    {"\t": r"E'\t'", "\r": r"E'\r'"}.get(start, _sql_string(start)) for start in FORMULA_STARTS
)


def _text(value: str) -> str:
    """A text field as `_cell` writes it: NULL (an empty field) for nothing or an empty text, a formula
    start behind a `'`. `value` is repeated: a column, or an expression over columns."""
    return (
        f"CASE WHEN {value} = '' THEN NULL WHEN left({value}, 1) IN ({_FORMULA_STARTS_SQL})"
        f" THEN '''' || {value} ELSE {value} END"
    )


def _moment(column: str) -> str:
    """`utc_iso`: the microseconds only when there are some."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"CASE WHEN date_trunc('second', {utc}) = {utc} THEN to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        f' ELSE to_char({utc}, \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\') END'
    )


def _seconds(column: str) -> str:
    """A float as Python's `repr` writes it: `.0` after a whole number, `inf` and `nan` in lower case."""
    return (
        f"CASE WHEN {column} = trunc({column}) AND abs({column}) < 1e15 THEN {column}::text || '.0'"
        f" WHEN {column} = trunc({column}) AND abs({column}) < 1e16 THEN {column}::bigint::text || '.0'"
        f" WHEN {column} = 'Infinity' THEN 'inf' WHEN {column} = '-Infinity' THEN '-inf'"
        f" WHEN {column} = 'NaN' THEN 'nan' ELSE {column}::text END"
    )


def _when_answered(value: str) -> str:
    return f"CASE WHEN r.wait_seconds IS NOT NULL THEN {value} END"


def _rating() -> str:
    if not queries._has_csat():
        return "NULL"
    from crm.models import Interaction

    field = Interaction._meta.get_field(queries.CSAT_FIELD)
    column = f"r.{queries.CSAT_FIELD}"
    return _seconds(column) if field.get_internal_type() == "FloatField" else f"{column}::text"


def _formatted_select() -> str:
    """The SELECT list over raw_rows' subquery `r` that writes csv_row's fields, named as the header."""
    fields = {
        "interaction_id": "r.id",
        "channel": _text("r.channel"),
        "queue": _text("COALESCE(r.arrival_chat_queue_name, r.arrival_voice_queue_name, r.queue_name)"),
        "agent": _text("CASE WHEN r.agent_id IS NOT NULL THEN r.agent_username ELSE r.agent_name END"),
        "contact": _text("CASE WHEN r.contact_id IS NOT NULL THEN r.contact_name ELSE r.customer_name END"),
        "arrived_at": _moment("r.opened_at"),
        "answered_at": _moment("r.answered_at"),
        "ended_at": _moment("r.ended_at"),
        "closed_at": _moment("r.closed_at"),
        "wait_seconds": _seconds("r.wait_seconds"),
        "handle_seconds": _when_answered(_seconds("r.handle_seconds")),
        "wrapup_seconds": _when_answered(_seconds("r.wrapup_seconds")),
        "outcome": _text("r.outcome"),
        "classification": _text(
            "CASE WHEN r.classification_id IS NOT NULL THEN r.classification_code"
            f" || {_sql_string(CLASSIFICATION_SEPARATOR)} || r.classification_label"
            " ELSE r.classification_text END"
        ),
        "transfers": "r.transfers",
        "csat_score": _rating(),
    }
    return ", ".join(f'{sql} AS "{name}"' for name, sql in fields.items())


def copy_statement(filters: ReportFilters, using: str = "default") -> tuple[str, tuple]:
    """COPY of the formatted rows with a header line, and the parameters of raw_rows' query (the filters'
    values: psycopg binds them on the client, quoted as literals, since PostgreSQL takes no parameters in
    a COPY). The outer SELECT computes each row's fields and sorts the rows in the queryset's order."""
    rows = raw_rows(filters)
    inner, params = rows.order_by().query.get_compiler(using).as_sql()
    statement = (
        f"COPY (SELECT {_formatted_select()} FROM ({inner}) AS r ORDER BY {_order_by(rows)})"
        " TO STDOUT (FORMAT csv, HEADER true)"
    )
    return statement, params


def _order_by(rows: QuerySet) -> str:
    """The queryset's order over the subquery's columns. Sorting outside the subquery lets PostgreSQL's
    parallel workers format their share of the rows before the sort, instead of the one process that sends
    them formatting every row after it (a month's export in two thirds of the time on two cores)."""
    terms = []
    for field in rows.query.order_by:
        name = field.removeprefix("-")
        column = "id" if name == "pk" else rows.model._meta.get_field(name).column
        terms.append(f"r.{column}{' DESC' if field.startswith('-') else ''}")
    return ", ".join(terms)


def copy_batches(filters: ReportFilters, lines_per_batch: int, using: str = "default") -> Iterator[bytes]:
    """interactions.csv as PostgreSQL writes it (UTF-8), `lines_per_batch` lines a batch, the header line
    first, each line ending in CRLF. A database error ends it by raising, never with a last batch: what was
    sent ends with the last whole batch, and the response is cut (see docs/reports.md, "Exports")."""
    statement, params = copy_statement(filters, using)
    with transaction.atomic(using), connections[using].cursor() as cursor:
        # A year's rows are costly enough for PostgreSQL to compile the query first (JIT), which held back
        # the first row by half a second and more.
        cursor.execute("SET LOCAL jit = off")
        with cursor.cursor.copy(statement, params) as copy:
            # A COPY's data is one message per line; the line ends in LF, after the quoted fields.
            lines: list = []
            for line in copy:
                lines.append(line[:-1])
                if len(lines) == lines_per_batch:
                    yield b"\r\n".join(lines) + b"\r\n"
                    lines = []
            if lines:
                yield b"\r\n".join(lines) + b"\r\n"


def supports_copy(using: str = "default") -> bool:
    return connections[using].vendor == "postgresql"


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_batches(lines_per_batch: int, columns: tuple, rows: Iterable[tuple]) -> Iterator[str]:
    """The header line and the rows as CSV written by Python (every export; interactions.csv where COPY is
    not available), `lines_per_batch` lines a batch (the header counts as one)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    lines = 1
    for row in rows:
        writer.writerow([_cell(value) for value in row])
        lines += 1
        if lines == lines_per_batch:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            lines = 0
    if lines:
        yield out.getvalue()


def python_rows(filters: ReportFilters, chunk_size: int) -> Iterable[tuple]:
    """csv_row's fields of each of the filters' interactions, read `chunk_size` rows at a time."""
    return map(csv_row, raw_rows(filters).iterator(chunk_size=chunk_size))
