"""Scenario 5: the report pages and the CSV exports over a year of interactions.

Data: one company's interactions (a million in the full profile) bulk-loaded by PostgreSQL itself
(INSERT ... SELECT over generate_series, in batches), spread over the last 365 days with more traffic in
the day than at night, over three chat and two voice queues, fifty agents, the outcomes in realistic shares,
a dozen classifications, waits, handle and wrap-up times; a second company's interactions (a tenth as
many) in the same table, so that every read really filters by company; and a year of each agent's status
intervals (a shift of sixteen half-hours a day, then logged out until the next one). The reports' rollup
is rebuilt from the loaded interactions; ANALYZE after loading.

Timing: one supervisor's browser (a verified two-factor session) fetching each page and export in turn
over a keep-alive connection to the deployment; the exports' bodies are read as they stream, with the time
to the first byte of the body, to the first data row and to the end. Queries: each request through
Django's test client in this process, counted with CaptureQueriesContext.
"""

import asyncio
import contextlib
import datetime as dt
import time
from types import SimpleNamespace

from bench.common import Hist, log, now

CHAT_QUEUES = ("Sales chat", "Support chat", "Billing chat")
VOICE_QUEUES = ("Sales line", "Support line")
CLASSIFICATIONS = (
    "Order status",
    "Delivery",
    "Returns",
    "Billing question",
    "Payment failed",
    "New account",
    "Password reset",
    "Product question",
    "Complaint",
    "Cancellation",
    "Address change",
    "Other",
)
# Agents who take chats (status `handling`) and who take calls (`call`): the first CHAT_SHARE of them chat.
CHAT_SHARE = 0.6
DAYS = 365
BATCH = 100_000
# One shift: sixteen half-hours in this order, then logged out until the next day's shift. Neighbours differ.
SHIFT = (
    "available",
    "work",
    "wrapup",
    "work",
    "wrapup",
    "break",
    "available",
    "work",
    "wrapup",
    "work",
    "wrapup",
    "available",
    "break",
    "work",
    "wrapup",
    "available",
)
SLOT_SECONDS = 1800


def load(slug: str, interactions: int, agents: int, *, today: dt.date, seed: float) -> SimpleNamespace:
    """A company with its queues, agents, classifications, `interactions` interactions over the DAYS days
    before `today` (UTC) and a year of its agents' status intervals."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from contactcentre.models import Company, Membership
    from routing.models import BreakReason, VoiceQueue, WebchatQueue
    from webchat.models import Classification

    started = time.monotonic()
    company = Company.objects.create(name=f"Bench {slug}", slug=slug)
    chat_queues = [WebchatQueue.objects.create(company=company, name=name) for name in CHAT_QUEUES]
    voice_queues = [
        VoiceQueue.objects.create(company=company, name=name, slug=name.lower().replace(" ", "-"))
        for name in VOICE_QUEUES
    ]
    classifications = [
        Classification.objects.create(company=company, code=f"C{i:02d}", label=label)
        for i, label in enumerate(CLASSIFICATIONS)
    ]
    lunch = BreakReason.objects.create(company=company, name="Lunch")
    User = get_user_model()
    unusable = make_password(None)
    users = User.objects.bulk_create(
        [User(username=f"{slug}a{i}", first_name=f"Agent {i}", password=unusable) for i in range(agents)]
    )
    members = Membership.objects.bulk_create(
        [Membership(user=user, company=company, can_webchat=True) for user in users]
    )
    chatters = max(1, int(agents * CHAT_SHARE))
    chat_agents = [m.pk for m in members[:chatters]]
    voice_agents = [m.pk for m in members[chatters:]] or chat_agents
    names = {m.pk: f"Agent {i}" for i, m in enumerate(members)}
    start = dt.datetime.combine(today - dt.timedelta(days=DAYS), dt.time(), tzinfo=dt.UTC)
    _interactions(
        company.pk,
        interactions,
        start=start,
        chat_queues=[(q.pk, q.name) for q in chat_queues],
        voice_queues=[(q.pk, q.name) for q in voice_queues],
        chat_agents=chat_agents,
        voice_agents=voice_agents,
        agent_names=names,
        classifications=[c.pk for c in classifications],
        seed=seed,
    )
    # The rows bypassed the writer that adds each interaction to the reports' rollup: rebuild it, as
    # `manage.py rebuild_report_rollup` does after any bulk load.
    from crm.services import report_rollup_rebuild

    report_rollup_rebuild(company_id=company.pk)
    intervals = _status_intervals(
        company.pk, [m.pk for m in members], chatters, start=start, break_reason=lunch.pk
    )
    log(
        f"reports data for {slug}: {interactions:,} interactions, {intervals:,} status intervals,"
        f" {agents} agents in {time.monotonic() - started:.1f}s"
    )
    return SimpleNamespace(
        company_id=company.pk,
        interactions=interactions,
        status_intervals=intervals,
        agents=agents,
        start=start,
        chat_queue_ids=[q.pk for q in chat_queues],
        voice_queue_ids=[q.pk for q in voice_queues],
    )


def _interactions(
    company_id: int,
    n: int,
    *,
    start: dt.datetime,
    chat_queues: list[tuple[int, str]],
    voice_queues: list[tuple[int, str]],
    chat_agents: list[int],
    voice_agents: list[int],
    agent_names: dict[int, str],
    classifications: list[int],
    seed: float,
) -> None:
    """n interactions made by PostgreSQL, BATCH at a time. Per row: webchat 60% (its three queues 50/30/20%),
    voice 40% (60/40%); chats completed 85%, abandoned 8%, left after an answer 3%, refused 3%, closed
    with their queue 1%; calls completed 88%, abandoned 12%. Arrivals over the day around 14:00 UTC.
    Waits exponential (mean 25 s chat, 15 s voice), handle 2–12 min (chat) or 1–8 min (voice), wrap-up
    0–60 s (a fifth without), the classification skewed to the first ones (a tenth unclassified). Rows are
    inserted in the order they arrived, day after day, as the product writes them (a month's rows are then
    on a twelfth of the table's pages, not spread over all of them)."""
    from django.db import connection

    from crm.models import Interaction

    table = Interaction._meta.db_table
    sql = f"""
    WITH base AS MATERIALIZED (
        SELECT g, random() AS r_channel, random() AS r_queue, random() AS r_outcome, random() AS r_wait,
               random() AS r_handle, random() AS r_wrap, random() AS r_agent, random() AS r_class,
               (random() + random() + random()) / 3 AS r_hour
        FROM generate_series(%(first)s, %(last)s) AS g
    ), shaped AS MATERIALIZED (
        SELECT g, r_wait, r_handle, r_wrap, r_agent, r_class, r_queue,
               r_channel < 0.6 AS chat,
               %(start)s::timestamptz + floor((g - 1)::float * {DAYS} / %(total)s) * interval '1 day'
                   + (3 + r_hour * 22) * interval '1 hour' AS opened_at,
               CASE WHEN r_channel < 0.6 THEN
                   CASE WHEN r_outcome < 0.85 THEN 'completed' WHEN r_outcome < 0.93 THEN 'abandoned'
                        WHEN r_outcome < 0.96 THEN 'left_after_answer' WHEN r_outcome < 0.99 THEN 'refused'
                        ELSE 'queue_closed' END
               ELSE CASE WHEN r_outcome < 0.88 THEN 'completed' ELSE 'abandoned' END
               END AS outcome
        FROM base
    ), timed AS MATERIALIZED (
        SELECT *,
               CASE WHEN outcome IN ('completed', 'left_after_answer')
                    THEN round((-ln(1 - r_wait) * CASE WHEN chat THEN 25 ELSE 15 END)::numeric, 3)::float
               END AS wait_seconds,
               CASE WHEN chat THEN
                   CASE WHEN r_queue < 0.5 THEN 1 WHEN r_queue < 0.8 THEN 2 ELSE 3 END
               ELSE CASE WHEN r_queue < 0.6 THEN 1 ELSE 2 END
               END AS queue_index
        FROM shaped
    ), full_rows AS MATERIALIZED (
        SELECT *,
               CASE WHEN wait_seconds IS NOT NULL THEN
                   round((CASE WHEN chat THEN 120 + r_handle * 600 ELSE 60 + r_handle * 420 END)::numeric,
                         3)::float
               ELSE 0 END AS handle_seconds,
               CASE WHEN wait_seconds IS NOT NULL AND r_wrap >= 0.2
                    THEN round((r_wrap * 60)::numeric, 3)::float ELSE 0 END AS wrapup_seconds,
               CASE WHEN outcome = 'refused' THEN 0
                    WHEN wait_seconds IS NULL THEN round((-ln(1 - r_handle) * 40)::numeric, 3)::float
                    ELSE NULL END AS left_after
        FROM timed
    )
    INSERT INTO {table} (
        company_id, contact_id, channel, chat_id, queue_name, webchat_queue_id, voice_queue_id,
        arrival_webchat_queue_id, arrival_voice_queue_id, agent_id, agent_name, customer_name, caller_number,
        opened_at, answered_at, ended_at, closed_at, wait_seconds, handle_seconds, wrapup_seconds, transfers,
        classification_id, classification_text, notes, abusive, outcome, anonymised_at
    )
    SELECT
        %(company)s, NULL, CASE WHEN chat THEN 'webchat' ELSE 'voice' END, NULL,
        CASE WHEN chat THEN (%(chat_names)s::text[])[queue_index]
             ELSE (%(voice_names)s::text[])[queue_index] END,
        CASE WHEN chat THEN (%(chat_ids)s::int[])[queue_index] END,
        CASE WHEN NOT chat THEN (%(voice_ids)s::int[])[queue_index] END,
        CASE WHEN chat THEN (%(chat_ids)s::int[])[queue_index] END,
        CASE WHEN NOT chat THEN (%(voice_ids)s::int[])[queue_index] END,
        agent_id,
        coalesce((%(agent_names)s::text[])[agent_position], ''),
        CASE WHEN chat THEN 'Customer ' || g ELSE '' END,
        CASE WHEN chat THEN '' ELSE '+4420' || lpad(g::text, 8, '0') END,
        opened_at,
        opened_at + wait_seconds * interval '1 second',
        opened_at + coalesce(wait_seconds + handle_seconds, left_after) * interval '1 second',
        opened_at
            + (coalesce(wait_seconds + handle_seconds, left_after) + wrapup_seconds) * interval '1 second',
        wait_seconds, handle_seconds, wrapup_seconds,
        CASE WHEN chat AND wait_seconds IS NOT NULL AND r_agent < 0.05 THEN 1 ELSE 0 END,
        CASE WHEN outcome <> 'refused' AND r_class < 0.9
             THEN (%(classes)s::int[])[1 + floor(power(r_class / 0.9, 2) * %(n_classes)s)::int] END,
        '', '', false, outcome, NULL
    FROM (
        SELECT *,
               CASE WHEN wait_seconds IS NULL THEN NULL
                    WHEN chat THEN (%(chat_agents)s::int[])[1 + floor(r_agent * %(n_chat)s)::int]
                    ELSE (%(voice_agents)s::int[])[1 + floor(r_agent * %(n_voice)s)::int] END AS agent_id,
               CASE WHEN wait_seconds IS NULL THEN NULL
                    WHEN chat THEN 1 + floor(r_agent * %(n_chat)s)::int
                    ELSE %(n_chat)s + 1 + floor(r_agent * %(n_voice)s)::int END AS agent_position
        FROM full_rows
    ) AS rows
    ORDER BY opened_at
    """
    ordered_agents = chat_agents + [a for a in voice_agents if a not in chat_agents]
    params = {
        "total": n,
        "start": start,
        "company": company_id,
        "chat_ids": [pk for pk, _ in chat_queues],
        "chat_names": [name for _, name in chat_queues],
        "voice_ids": [pk for pk, _ in voice_queues],
        "voice_names": [name for _, name in voice_queues],
        "chat_agents": chat_agents,
        "voice_agents": voice_agents,
        "n_chat": len(chat_agents),
        "n_voice": len(voice_agents),
        "agent_names": [agent_names[pk] for pk in ordered_agents],
        "classes": classifications,
        "n_classes": len(classifications),
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [seed])
        for first in range(1, n + 1, BATCH):
            last = min(first + BATCH - 1, n)
            cursor.execute(sql, {**params, "first": first, "last": last})


def _status_intervals(
    company_id: int, agent_ids: list[int], chatters: int, *, start: dt.datetime, break_reason: int
) -> int:
    """Each agent's intervals over DAYS days: a shift of SHIFT's half-hours (boundaries moved by up to
    ten minutes, the same for both neighbours), starting between 06:00 and 12:00 by agent, then logged
    out until the next shift; the last logged-out interval is still open. Returns how many were made."""
    from django.db import connection

    from routing.models import AgentStatusInterval

    table = AgentStatusInterval._meta.db_table
    statuses = list(SHIFT)
    sql = f"""
    WITH slots AS (
        SELECT a.ordinality AS agent_index, a.agent_id, d AS day, s.ordinality AS slot, s.status
        FROM unnest(%(agents)s::int[]) WITH ORDINALITY AS a(agent_id, ordinality)
        CROSS JOIN generate_series(0, {DAYS - 1}) AS d
        CROSS JOIN unnest(%(statuses)s::text[]) WITH ORDINALITY AS s(status, ordinality)
    ), bounded AS (
        SELECT *,
               %(start)s::timestamptz + day * interval '1 day' + (6 + agent_index %% 7) * interval '1 hour'
                   AS shift_start
        FROM slots
    ), edged AS (
        SELECT agent_id, agent_index, day, slot, status, shift_start,
               shift_start + (slot - 1) * interval '{SLOT_SECONDS} seconds'
                   + CASE WHEN slot = 1 THEN interval '0'
                          ELSE (((agent_index * 7919 + day * 104729 + slot * 1299709) %% 1201) - 600)
                               * interval '1 second' END AS started_at,
               shift_start + slot * interval '{SLOT_SECONDS} seconds'
                   + CASE WHEN slot = {len(SHIFT)} THEN interval '0'
                          ELSE (((agent_index * 7919 + day * 104729 + (slot + 1) * 1299709) %% 1201) - 600)
                               * interval '1 second' END AS ended_at
        FROM bounded
    )
    INSERT INTO {table} (company_id, agent_id, status, break_reason_id, started_at, ended_at)
    SELECT %(company)s, agent_id,
           CASE WHEN status <> 'work' THEN status
                WHEN agent_index <= %(chatters)s THEN 'handling' ELSE 'call' END,
           CASE WHEN status = 'break' THEN %(reason)s END,
           started_at, ended_at
    FROM edged
    UNION ALL
    SELECT %(company)s, agent_id, 'logged_out', NULL,
           shift_start + {len(SHIFT) * SLOT_SECONDS} * interval '1 second',
           CASE WHEN day < {DAYS - 1} THEN shift_start + interval '1 day' END
    FROM bounded WHERE slot = 1
    """
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "agents": agent_ids,
                "statuses": statuses,
                "start": start,
                "company": company_id,
                "chatters": chatters,
                "reason": break_reason,
            },
        )
        return cursor.rowcount


def analyze() -> None:
    from django.db import connection

    from crm.models import Interaction, ReportAgentDay, ReportClassificationDay, ReportQueueHour
    from routing.models import AgentStatusInterval

    with connection.cursor() as cursor:
        for model in (
            Interaction,
            AgentStatusInterval,
            ReportQueueHour,
            ReportClassificationDay,
            ReportAgentDay,
        ):
            cursor.execute(f"ANALYZE {model._meta.db_table}")


def supervisor_session(company_id: int, username: str) -> SimpleNamespace:
    """A supervisor of the company with an authenticator, and a session that has passed its second step
    (what signing in with the password and the code leaves), as tests/two_factor_support.py makes one."""
    from datetime import timedelta

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from contactcentre.models import Membership, Role

    user = get_user_model().objects.create(
        username=username, first_name="Supervisor", password=make_password(None)
    )
    Membership.objects.create(user=user, company_id=company_id, role=Role.SUPERVISOR)
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    store = SessionStore()
    store.update(
        {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: user.get_session_auth_hash(),
            DEVICE_ID_SESSION_KEY: device.persistent_id,
        }
    )
    store.set_expiry(timezone.now() + timedelta(days=2))
    store.create()
    return SimpleNamespace(user_id=user.pk, session_key=store.session_key)


# ---------------------------------------------------------------------------------------------------------
# Timing


def requests_for(month: tuple[dt.date, dt.date], year: tuple[dt.date, dt.date]) -> list[dict]:
    """The pages and exports measured, each for a month and (but the drill-down) for a year."""

    def query(span: tuple[dt.date, dt.date], extra: str = "") -> str:
        return f"from={span[0].isoformat()}&to={span[1].isoformat()}{extra}"

    items = []
    for label, span in (("month", month), ("year", year)):
        items += [
            {"name": f"report_{label}", "range": label, "kind": "page", "path": f"/reports/?{query(span)}"},
            {
                "name": f"interactions_csv_{label}",
                "range": label,
                "kind": "csv",
                "path": f"/reports/interactions.csv?{query(span)}",
            },
            {
                "name": f"queues_csv_{label}",
                "range": label,
                "kind": "csv",
                "path": f"/reports/queues.csv?{query(span, '&interval=hour' if label == 'month' else '')}",
            },
            {
                "name": f"agents_csv_{label}",
                "range": label,
                "kind": "csv",
                "path": f"/reports/agents.csv?{query(span)}",
            },
        ]
    items.insert(
        1,
        {
            "name": "drilldown_month",
            "range": "month",
            "kind": "page",
            "path": f"/reports/interactions/?{query(month, '&outcome=answered&page=2')}",
        },
    )
    return items


async def _fetch(port: int, path: str, cookie: str, timeout: float) -> dict:
    """One GET on a new connection, its body read as it arrives: seconds to the first body byte, to the end
    of the first line after the CSV header (the first data row) and to the end; status, bytes, lines."""
    started = now()
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**22)
    try:
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sessionid={cookie}\r\n"
                "Connection: close\r\n\r\n"
            ).encode("latin-1")
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status = int(head.split(b" ", 2)[1])
        chunked = b"transfer-encoding: chunked" in head.lower()
        first_byte = first_row = None
        size = lines = 0
        while True:
            if chunked:
                length = int((await asyncio.wait_for(reader.readuntil(b"\r\n"), timeout)).split(b";")[0], 16)
                if length == 0:
                    break
                data = await asyncio.wait_for(reader.readexactly(length + 2), timeout)
                data = data[:-2]
            else:
                data = await asyncio.wait_for(reader.read(2**20), timeout)
                if not data:
                    break
            if first_byte is None and data:
                first_byte = now() - started
            size += len(data)
            lines += data.count(b"\n")
            if first_row is None and lines >= 2:
                first_row = now() - started
        return {
            "status": status,
            "first_byte": first_byte,
            "first_row": first_row,
            "total": now() - started,
            "bytes": size,
            "lines": lines,
        }
    finally:
        writer.close()
        with contextlib.suppress(Exception):  # the server closes too
            await writer.wait_closed()


async def time_requests(
    port: int,
    session_key: str,
    items: list[dict],
    *,
    repetitions: int,
    warmup: int,
    timeout: float,
    budget_s: float,
    least: int = 3,
) -> dict:
    """Each item fetched `warmup` + `repetitions` times, one at a time; an item whose requests have taken
    `budget_s` stops after `least` measured ones (a year's export of a million rows takes minutes)."""
    results = {}
    for item in items:
        hists = {"first_byte": Hist(), "first_row": Hist(), "total": Hist()}
        statuses: dict[int, int] = {}
        last: dict = {}
        item_started = now()
        for i in range(warmup + repetitions):
            if i >= warmup + least and now() - item_started > budget_s:
                break
            last = await _fetch(port, item["path"], session_key, timeout)
            statuses[last["status"]] = statuses.get(last["status"], 0) + 1
            if i >= warmup:
                for key, hist in hists.items():
                    if last[key] is not None:
                        hist.record(last[key])
        summary = {key: hist.summary() for key, hist in hists.items()}
        results[item["name"]] = {
            **item,
            "measured": hists["total"].count,
            "statuses": {str(k): v for k, v in statuses.items()},
            "bytes": last.get("bytes"),
            "rows": max((last.get("lines") or 1) - 1, 0) if item["kind"] == "csv" else None,
            "first_byte": summary["first_byte"],
            "first_row": summary["first_row"] if item["kind"] == "csv" else None,
            "total": summary["total"],
        }
        log(
            f"reports {item['name']}: total p50 {hists['total'].pct(50)} / p95 {hists['total'].pct(95)}"
            f" ms, first byte p95 {hists['first_byte'].pct(95)} ms, {last.get('bytes')} bytes,"
            f" statuses {statuses}"
        )
    return results


def count_queries(session_key: str, items: list[dict]) -> dict:
    """Each request's queries through the test client (the body consumed), how many and the slowest."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.cookies["sessionid"] = session_key
    result = {}
    for item in items:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(item["path"])
            if response.streaming:
                for _ in response.streaming_content:
                    pass
            else:
                _ = response.content
        queries = captured.captured_queries
        slowest = sorted(queries, key=lambda q: float(q["time"]), reverse=True)[:3]
        result[item["name"]] = {
            "status": response.status_code,
            "queries": len(queries),
            "query_ms_total": round(sum(float(q["time"]) for q in queries) * 1000, 2),
            "slowest": [{"ms": round(float(q["time"]) * 1000, 2), "sql": q["sql"]} for q in slowest],
        }
    return result
