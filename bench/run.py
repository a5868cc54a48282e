"""`make bench`: the deployment and its baselines under load, in one run, with a report.

    python -m bench.run            # the full run (about 15 minutes, and 19 more for scenario 5)
    python -m bench.run --quick    # a smoke run (about 2 minutes)
    python -m bench.run --only s1,s4 --compare uvicorn,lists

It creates its own database (contactcentre_bench) and uses its own Redis database (6379/5, flushed at the
start), starts every server pinned to core 0 and runs this load generator on core 1, and writes
bench/results/<time>/results.json, report.md, latency.png and the servers' logs. A full run of s1-s4 also
refreshes docs/performance-latency.png and the figures block of docs/performance.md; a full-profile run with
s5 its reports block.
"""

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from types import SimpleNamespace

import psutil
import redis

from bench import fixtures, procs, report
from bench.common import (
    LOADGEN_CORE,
    REDIS_URL,
    RESULTS,
    ROOT,
    SERVER_CORE,
    deployment_env,
    log,
    machine_speed,
    new_secret_key,
    raise_open_files,
    write_json,
)
from bench.pairs import product_pairs, relay_pairs
from bench.scenarios import reports as reports_scenario
from bench.scenarios.allocation import AllocationRun, sql_checks
from bench.scenarios.chat_latency import run_target
from bench.scenarios.connections import run_connections
from bench.scenarios.pages import count_queries, explain, time_pages

PROFILES = {
    "full": {
        "s1_chats": 2000,
        "s1_steps": [(25, 10), (50, 10), (100, 10), (200, 10), (300, 30), (450, 10), (600, 10)],
        "s1_headline": 300,
        "s1_warmup": (50, 4),
        "s1_drain": 10,
        "s1_compare_seconds": 20,
        "s2_step": 1000,
        "s2_cap": 16000,
        "s2_budget": {"raw": 60, "relay": 75, "product": 160},
        "s2_probe_pairs": 10,
        "s2_probe_rate": 20,
        "s2_probe_seconds": 3,
        "s2_p95_limit_ms": 250,
        "s3_agents": 200,
        "s3_capacity": 3,
        "s3_churn_rate": 25,
        "s3_churn_seconds": 30,
        "s3_http_concurrency": 4,
        "s3_burst_concurrency": 32,
        # A comparison deployment here with parallel database calls opened 98 connections to the shared
        # PostgreSQL (max 100): run it only with --set, on a machine of one's own.
        "s3_compare": [],
        "s4_inbox": 50,
        "s4_waiting": 10000,
        "s4_history": 30000,
        "s4_requests": 100,
        "s4_small": (5, 100),
        "s5_interactions": 1_000_000,
        "s5_other_interactions": 100_000,
        "s5_agents": 50,
        "s5_requests": 6,
        "s5_budget_s": 150,
        "compare": ["before"],
    },
    "quick": {
        "s1_chats": 200,
        "s1_steps": [(100, 5), (300, 8)],
        "s1_headline": 300,
        "s1_warmup": (30, 2),
        "s1_drain": 5,
        "s1_compare_seconds": 6,
        "s2_step": 250,
        "s2_cap": 1500,
        "s2_budget": {"raw": 25, "relay": 25, "product": 40},
        "s2_probe_pairs": 5,
        "s2_probe_rate": 20,
        "s2_probe_seconds": 1.5,
        "s2_p95_limit_ms": 250,
        "s3_agents": 30,
        "s3_capacity": 3,
        "s3_churn_rate": 10,
        "s3_churn_seconds": 8,
        "s3_http_concurrency": 4,
        "s3_burst_concurrency": 16,
        "s3_compare": [],
        "s4_inbox": 50,
        "s4_waiting": 2000,
        "s4_history": 0,
        "s4_requests": 20,
        "s4_small": (5, 100),
        "s5_interactions": 100_000,
        "s5_other_interactions": 10_000,
        "s5_agents": 50,
        "s5_requests": 5,
        "s5_budget_s": 60,
        "compare": [],
    },
}

# Comparison deployments of scenario 1 (the headline rate only): what each changes. Settings variants are in
# bench/settings_variants.py, code patches in bench/experiments.py; the deployment under test uses neither.
COMPARISONS = {
    "uvicorn": {
        "server": "uvicorn",
        "note": "uvicorn (uvloop, httptools, websockets-sansio) instead of Daphne",
    },
    "procs2": {"processes": 2, "note": "two Daphne processes on the server core"},
    "lists": {"variants": "lists", "note": "the list-based channel layer instead of pub/sub"},
    "fullcheck": {"variants": "fullcheck", "note": "a query to check each pooled connection handed out"},
    "switch5ms": {"patches": "switch5ms", "note": "the default 5 ms GIL switch interval"},
    "one_db_thread": {"patches": "one_db_thread", "note": "the sockets' database calls on one thread"},
    "concurrent_publish": {
        "patches": "concurrent_publish",
        "note": "a transition's frames sent concurrently",
    },
    "gc": {"patches": "gc", "note": "cyclic GC made rarer"},
    "nofreeze": {"variants": "nofreeze", "note": "no freezing of what survives out of the cyclic GC's scans"},
    "watch": {"patches": "watch", "note": "the product, logging its GC pauses and event-loop lag"},
    "nojobs": {"celery": False, "note": "no Celery worker and beat (no periodic jobs) beside the server"},
    "no_positions": {"patches": "no_positions", "note": "no queue-position frames after allocation"},
    "relay-uvicorn": {"relay": True, "server": "uvicorn", "note": "the bare Channels relay under uvicorn"},
    "before": {
        "steps": [(25, 10), (50, 10), (100, 10), (300, 15)],
        "patches": "switch5ms,one_db_thread",
        "note": "one database thread, 5 ms GIL switch (the earlier settings)",
    },
}


class Deployment:
    """The product as production runs it: Daphne (or uvicorn) processes and Celery worker and beat."""

    def __init__(
        self,
        ctx,
        *,
        server: str = "daphne",
        processes: int = 1,
        variants: str = "",
        patches: str = "",
        tag: str = "product",
        celery: bool = True,
    ):
        env = dict(ctx.env)
        if variants:
            env["DJANGO_SETTINGS_MODULE"] = "bench.settings_variants"
            env["BENCH_VARIANTS"] = variants
        self.app = "contactcentre.asgi:application"
        if patches:
            env["BENCH_PATCHES"] = patches
            self.app = "bench.experiments:application"
        self.ctx = ctx
        self.env = env
        self.server = server
        self.processes = processes
        self.tag = tag
        self.with_celery = celery
        self.celery: list[procs.Proc] = []
        self.servers: list[procs.Proc] = []

    def __enter__(self) -> "Deployment":
        try:
            if self.with_celery:
                self.celery = procs.celery(self.env, self.ctx.log_dir, self.ctx.run_dir)
            for i in range(self.processes):
                self.servers.append(
                    procs.asgi_server(
                        self.server,
                        f"{self.tag}-{self.server}-{i}",
                        self.app,
                        self.env,
                        self.ctx.log_dir,
                    )
                )
        except BaseException:
            self.__exit__(None, None, None)
            raise
        log(
            f"deployment up: {self.processes} x {self.server} on ports {self.ports}"
            + (f", patches {self.env.get('BENCH_PATCHES')}" if self.env.get("BENCH_PATCHES") else "")
            + (f", variants {self.env.get('BENCH_VARIANTS')}" if self.env.get("BENCH_VARIANTS") else "")
        )
        return self

    @property
    def ports(self) -> list[int]:
        return [server.port for server in self.servers]

    def __exit__(self, *exc) -> None:
        for proc in self.servers + self.celery:
            proc.stop()


def counters_factory(redis_client):
    def counters() -> dict:
        fixtures.pg_stat_snapshot_clear()
        pg = fixtures.pg_stats()
        return {
            "pg_transactions": pg["xact_commit"],
            "pg_rows_inserted": pg["tup_inserted"],
            "pg_rows_updated": pg["tup_updated"],
            "pg_sessions_opened": pg["sessions"],
            "redis_commands": redis_client.info("stats")["total_commands_processed"],
        }

    return counters


# ---------------------------------------------------------------------------------------------------------
# Fixtures


def make_fixtures(cfg: dict, which: set[str]) -> SimpleNamespace:
    data = SimpleNamespace()
    started = time.monotonic()
    if which & {"s1", "s2"}:
        data.s1_chats = _conversations("s1", cfg["s1_chats"])
    if "s2" in which:
        data.s2_chats = _conversations("s2", cfg["s2_cap"] // 2)
    if "s3" in which:
        data.s3 = {name: _allocation_company(cfg, name) for name in ["default", *cfg["s3_compare"]]}
    if "s4" in which:
        data.s4 = _inbox_company("s4", *(cfg["s4_inbox"], cfg["s4_waiting"]))
        data.s4_small = _inbox_company("s4small", *cfg["s4_small"])
    if "s5" in which:
        reports_started = time.monotonic()
        data.s5 = _reports_companies(cfg)
        data.s5_load_seconds = round(time.monotonic() - reports_started, 1)
    log(f"fixtures made in {time.monotonic() - started:.1f}s")
    return data


def _allocation_company(cfg: dict, name: str) -> SimpleNamespace:
    """Agents on a break and a backlog in an auto-allocating queue, in a company of their own."""
    slug = "s3" if name == "default" else f"s3-{name}"
    company = fixtures.company(slug, default_max_chats=cfg["s3_capacity"])
    queue = fixtures.queue(
        company, "Sales", auto_allocate=True, max_chats_per_agent=cfg["s3_capacity"], wrapup_seconds=3600
    )
    profile = fixtures.profile_all(company)
    agents = fixtures.agents(company, profile, cfg["s3_agents"], prefix=f"{slug}a", presence="break")
    backlog = int(
        (cfg["s3_agents"] * cfg["s3_capacity"] + cfg["s3_churn_rate"] * cfg["s3_churn_seconds"]) * 1.5
    )
    fixtures.chats(queue, backlog, state="queued", age_seconds=3600)
    return SimpleNamespace(company_id=company.pk, queue_id=queue.pk, agents=agents, backlog=backlog)


def _conversations(slug: str, n: int) -> list[tuple[str, str, str]]:
    """n active chats, each with its own agent: (chat id, customer token, agent session key)."""
    company = fixtures.company(slug)
    queue = fixtures.queue(company, "Chat", auto_allocate=False)
    profile = fixtures.profile_all(company)
    agents = fixtures.agents(company, profile, n, prefix=f"{slug}a")
    chat_ids = fixtures.chats(queue, n, state="active", agent_ids=[agent.membership_id for agent in agents])
    tokens = fixtures.customer_tokens(chat_ids)
    return [(chat_id, tokens[chat_id], agents[i].session_key) for i, chat_id in enumerate(chat_ids)]


def _inbox_company(slug: str, inbox: int, waiting: int) -> SimpleNamespace:
    """One agent holding `inbox` chats (one active, a few parked) and `waiting` chats in a queue they see."""
    company = fixtures.company(slug)
    queue = fixtures.queue(company, "Waiting", auto_allocate=False)
    fixtures.queue(company, "Other", auto_allocate=False)
    profile = fixtures.profile_all(company)
    agent = fixtures.agents(company, profile, 1, prefix=f"{slug}a")[0]
    active = fixtures.chats(queue, 1, state="active", agent_ids=[agent.membership_id])[0]
    parked = min(5, max(inbox - 1, 0))
    fixtures.chats(queue, parked, state="parked", agent_ids=[agent.membership_id], park_reason="manual")
    fixtures.chats(
        queue, max(inbox - 1 - parked, 0), state="inbox", agent_ids=[agent.membership_id], unseen=True
    )
    fixtures.messages(active, 20, agent_id=agent.membership_id)
    fixtures.chats(queue, waiting, state="queued", age_seconds=3600)
    return SimpleNamespace(
        company_id=company.pk,
        queue_id=queue.pk,
        agent=agent,
        active_chat=active,
        inbox=inbox,
        waiting=waiting,
    )


def _reports_companies(cfg: dict) -> SimpleNamespace:
    """A year of one company's interactions and status history, another company's beside them, a
    verified supervisor session; tables analysed."""
    from datetime import UTC, datetime

    today = datetime.now(UTC).date()
    main = reports_scenario.load("s5", cfg["s5_interactions"], cfg["s5_agents"], today=today, seed=0.5)
    other = reports_scenario.load(
        "s5other", cfg["s5_other_interactions"], max(cfg["s5_agents"] // 5, 2), today=today, seed=0.25
    )
    started = time.monotonic()
    reports_scenario.analyze()
    log(f"reports tables analysed in {time.monotonic() - started:.1f}s")
    main.today = today
    main.other = other
    main.supervisor = reports_scenario.supervisor_session(main.company_id, "s5supervisor")
    return main


# ---------------------------------------------------------------------------------------------------------
# Scenarios


def scenario_chat_latency(ctx, cfg: dict) -> dict:
    n = cfg["s1_chats"]
    common = {
        "steps": cfg["s1_steps"],
        "headline": cfg["s1_headline"],
        "warmup": cfg["s1_warmup"],
        "drain": cfg["s1_drain"],
    }
    out: dict = {
        "chats": n,
        "connections": 2 * n,
        "steps": cfg["s1_steps"],
        "headline_rate": cfg["s1_headline"],
        "targets": {},
        "comparisons": {},
    }

    if "raw" in ctx.targets:
        echo = procs.echo_server(ctx.env, ctx.log_dir)
        try:
            out["targets"]["raw"] = asyncio.run(
                run_target(
                    "raw websockets",
                    relay_pairs([echo.port], n, room_prefix="c"),
                    [echo],
                    product=False,
                    **common,
                )
            )
        finally:
            echo.stop()

    if "relay" in ctx.targets:
        relay = procs.daphne(
            "channels-relay",
            "bench.baselines.relay_asgi:application",
            {**ctx.env, "CHANNEL_LAYER_PREFIX": "benchrelay"},
            ctx.log_dir,
        )
        try:
            out["targets"]["relay"] = asyncio.run(
                run_target(
                    "bare Channels relay",
                    relay_pairs([relay.port], n, room_prefix="c"),
                    [relay],
                    product=False,
                    **common,
                )
            )
        finally:
            relay.stop()

    if "product" in ctx.targets:
        with Deployment(ctx) as deployment:
            out["targets"]["product"] = asyncio.run(
                run_target(
                    "product",
                    product_pairs(deployment.ports, ctx.data.s1_chats),
                    deployment.servers,
                    product=True,
                    counters=ctx.counters,
                    **common,
                )
            )
            out["targets"]["product"]["jobs_cpu_s"] = round(
                sum(p.cpu_seconds() for p in deployment.celery), 2
            )

    for name in ctx.compare:
        spec = COMPARISONS[name]
        compare_common = {
            "steps": spec.get("steps", [(cfg["s1_headline"], cfg["s1_compare_seconds"])])
            if not ctx.quick
            else [(cfg["s1_headline"], cfg["s1_compare_seconds"])],
            "headline": cfg["s1_headline"],
            "warmup": cfg["s1_warmup"],
            "drain": cfg["s1_drain"],
        }
        try:
            if spec.get("relay"):
                server = procs.asgi_server(
                    spec.get("server", "daphne"),
                    f"cmp-{name}",
                    "bench.baselines.relay_asgi:application",
                    {**ctx.env, "CHANNEL_LAYER_PREFIX": f"benchcmp{len(out['comparisons'])}"},
                    ctx.log_dir,
                )
                try:
                    result = asyncio.run(
                        run_target(
                            f"relay [{name}]",
                            relay_pairs([server.port], n, room_prefix="c"),
                            [server],
                            product=False,
                            **compare_common,
                        )
                    )
                finally:
                    server.stop()
            else:
                with Deployment(
                    ctx,
                    server=spec.get("server", "daphne"),
                    processes=spec.get("processes", 1),
                    variants=spec.get("variants", ""),
                    patches=spec.get("patches", ""),
                    celery=spec.get("celery", True),
                    tag=f"cmp-{name}",
                ) as deployment:
                    result = asyncio.run(
                        run_target(
                            f"product [{name}]",
                            product_pairs(deployment.ports, ctx.data.s1_chats),
                            deployment.servers,
                            product=True,
                            counters=ctx.counters,
                            **compare_common,
                        )
                    )
        except Exception as error:
            result = {"error": f"{type(error).__name__}: {error}"}
            log(f"comparison {name} failed: {error}")
        result["note"] = spec["note"]
        result["kind"] = "relay" if spec.get("relay") else "product"
        out["comparisons"][name] = result
    return out


def scenario_connections(ctx, cfg: dict) -> dict:
    common = {
        "step_connections": cfg["s2_step"],
        "cap": cfg["s2_cap"],
        "p95_limit_ms": cfg["s2_p95_limit_ms"],
        "probe_rate": cfg["s2_probe_rate"],
        "probe_seconds": cfg["s2_probe_seconds"],
    }
    probes = cfg["s2_probe_pairs"]
    out: dict = {"targets": {}}

    def relay_idle(port):
        return lambda start, count: relay_pairs([port], count, room_prefix="idle", offset=start)

    if "raw" in ctx.targets:
        echo = procs.echo_server(ctx.env, ctx.log_dir)
        try:
            out["targets"]["raw"] = asyncio.run(
                run_connections(
                    "raw websockets",
                    echo,
                    product=False,
                    probe_pairs=relay_pairs([echo.port], probes, room_prefix="probe"),
                    idle_pairs=relay_idle(echo.port),
                    budget_s=cfg["s2_budget"]["raw"],
                    **common,
                )
            )
        finally:
            echo.stop()

    if "relay" in ctx.targets:
        relay = procs.daphne(
            "channels-relay-s2",
            "bench.baselines.relay_asgi:application",
            {**ctx.env, "CHANNEL_LAYER_PREFIX": "benchrelay2"},
            ctx.log_dir,
        )
        try:
            out["targets"]["relay"] = asyncio.run(
                run_connections(
                    "bare Channels relay",
                    relay,
                    product=False,
                    probe_pairs=relay_pairs([relay.port], probes, room_prefix="probe"),
                    idle_pairs=relay_idle(relay.port),
                    budget_s=cfg["s2_budget"]["relay"],
                    **common,
                )
            )
        finally:
            relay.stop()

    if "product" in ctx.targets:
        with Deployment(ctx, tag="s2") as deployment:
            ports = deployment.ports
            chats = ctx.data.s2_chats
            out["targets"]["product"] = asyncio.run(
                run_connections(
                    "product",
                    deployment.servers[0],
                    product=True,
                    probe_pairs=product_pairs(ports, ctx.data.s1_chats[:probes]),
                    idle_pairs=lambda start, count: product_pairs(
                        ports, chats[start : start + count], offset=10**6 + start
                    ),
                    budget_s=cfg["s2_budget"]["product"],
                    **common,
                )
            )
    return out


def scenario_allocation(ctx, cfg: dict) -> dict:
    out = _allocation_once(ctx, cfg, ctx.data.s3["default"], {})
    out["comparisons"] = {}
    for name in cfg["s3_compare"]:
        spec = COMPARISONS[name]
        try:
            result = _allocation_once(
                ctx,
                cfg,
                ctx.data.s3[name],
                {
                    "variants": spec.get("variants", ""),
                    "patches": spec.get("patches", ""),
                    "tag": f"s3-{name}",
                },
            )
        except Exception as error:
            result = {"error": f"{type(error).__name__}: {error}"}
            log(f"allocation comparison {name} failed: {error}")
        result["note"] = spec["note"]
        out["comparisons"][name] = result
    return out


# Stop loading the shared PostgreSQL before it runs out of connections for everybody else on the machine.
PG_BACKENDS_LIMIT = 60


def _allocation_once(ctx, cfg: dict, s3: SimpleNamespace, deployment_options: dict) -> dict:
    capacity = cfg["s3_capacity"]
    out: dict = {
        "agents": len(s3.agents),
        "capacity": capacity,
        "backlog": s3.backlog,
        "churn_rate": cfg["s3_churn_rate"],
        "churn_seconds": cfg["s3_churn_seconds"],
        "http_concurrency": cfg["s3_http_concurrency"],
        "burst_http_concurrency": cfg["s3_burst_concurrency"],
    }
    options = {"tag": "s3", **deployment_options}
    with Deployment(ctx, **options) as deployment:
        run = AllocationRun(
            deployment.ports[0],
            s3.agents,
            concurrency=cfg["s3_http_concurrency"],
            burst_concurrency=cfg["s3_burst_concurrency"],
        )

        async def sample_backends(stop: asyncio.Event) -> None:
            while not stop.is_set():
                backends = fixtures.pg_backends()
                run.backend_samples.append(backends)
                if backends > PG_BACKENDS_LIMIT and not run.abort_reason:
                    run.abort_reason = f"{backends} PostgreSQL connections open: load stopped"
                    log(run.abort_reason)
                await asyncio.sleep(0.5)

        async def phases() -> None:
            out["connect"] = await run.connect()
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_backends(stop))
            try:
                burst = await run.burst(len(s3.agents) * capacity, timeout=60)
                out["burst"] = burst
                out["burst"].update(_burst_rate(s3.company_id, burst["started_wall"]))
                log(f"allocation burst: {out['burst']}")
                out["churn"] = await run.churn(cfg["s3_churn_rate"], cfg["s3_churn_seconds"])
            finally:
                stop.set()
                await sampler
                await run.close()

        asyncio.run(phases())
    churn = out["churn"]
    window = (churn["started_wall"], churn["ended_wall"] + 2.0)
    checks = sql_checks(s3.company_id, capacity, run.bells, [a.membership_id for a in s3.agents], window)
    out["checks"] = checks
    out["churn"]["allocations_per_s"] = round(checks["allocated_in_churn"] / (window[1] - window[0]), 1)
    out["client_refill"] = run.refill.summary()
    out["http"] = {kind: hist.summary() for kind, hist in run.http.items()}
    out["http_errors"] = run.http_errors
    out["pg_backends_max"] = max(run.backend_samples, default=None)
    out["aborted"] = run.abort_reason
    log(
        f"allocation [{options['tag']}]: burst {out['burst'].get('allocations_per_s')}/s,"
        f" churn {out['churn']['allocations_per_s']}/s, refill p99 {checks['server_refill'].get('p99_ms')}"
        " ms,"
        f" doubles {checks['double_allocations']}, breaches {checks['capacity_breaches']},"
        f" pg connections max {out['pg_backends_max']}"
    )
    return out


def _burst_rate(company_id: int, started_wall: float) -> dict:
    from datetime import UTC, datetime

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), max(allocated_at) FROM webchat_chat WHERE company_id = %s AND allocated_at"
            " >= %s",
            [company_id, datetime.fromtimestamp(started_wall, UTC)],
        )
        count, last = cursor.fetchone()
    if not count:
        return {"allocated": 0, "allocations_per_s": 0.0}
    seconds = last.timestamp() - started_wall
    return {
        "allocated": count,
        "seconds_to_last_allocation": round(seconds, 3),
        "allocations_per_s": round(count / seconds, 1) if seconds > 0 else None,
    }


def scenario_pages(ctx, cfg: dict) -> dict:
    s4, small = ctx.data.s4, ctx.data.s4_small

    def pages(data) -> list[tuple[str, str, bool]]:
        return [
            ("inbox", "/inbox/", False),
            ("inbox_chat", f"/inbox/{data.active_chat}/", False),
            ("inbox_list", "/inbox/list/", True),
            ("queue_row", f"/inbox/queues/{data.queue_id}/", True),
            ("queue_open", f"/inbox/queues/{data.queue_id}/?open=1", True),
        ]

    out: dict = {
        "inbox_chats": s4.inbox,
        "waiting": s4.waiting,
        "small": {"inbox_chats": small.inbox, "waiting": small.waiting},
    }
    requests, warmup = cfg["s4_requests"], 10
    with Deployment(ctx, tag="s4") as deployment:
        port = deployment.ports[0]
        out["timing"] = asyncio.run(
            time_pages(port, s4.agent.session_key, pages(s4), requests=requests, warmup=warmup)
        )
        out["baseline"] = asyncio.run(
            time_pages(
                port, "", [("login_page", "/accounts/login/", False)], requests=requests, warmup=warmup
            )
        )["login_page"]
        out["queries"] = count_queries(s4.agent.user_id, pages(s4))
        out["queries_small"] = count_queries(small.agent.user_id, pages(small))
        out["explain"] = explain(out["queries"])
        if cfg["s4_history"]:
            from routing.models import WebchatQueue

            queue = WebchatQueue.objects.get(pk=s4.queue_id)
            fixtures.chats(queue, cfg["s4_history"], state="closed", age_seconds=86400 * 30)
            with __import__("django.db").db.connection.cursor() as cursor:
                cursor.execute("ANALYZE webchat_chat")
            out["history_closed_chats"] = cfg["s4_history"]
            out["timing_with_history"] = asyncio.run(
                time_pages(port, s4.agent.session_key, pages(s4), requests=requests, warmup=warmup)
            )
            out["queries_with_history"] = count_queries(s4.agent.user_id, pages(s4))
            out["explain_with_history"] = explain(out["queries_with_history"])
    return out


def scenario_reports(ctx, cfg: dict) -> dict:
    from datetime import timedelta

    s5 = ctx.data.s5
    yesterday = s5.today - timedelta(days=1)
    month = (yesterday - timedelta(days=29), yesterday)
    year = (yesterday - timedelta(days=364), yesterday)
    items = reports_scenario.requests_for(month, year)
    out: dict = {
        "interactions": s5.interactions,
        "other_company_interactions": s5.other.interactions,
        "status_intervals": s5.status_intervals + s5.other.status_intervals,
        "agents": s5.agents,
        "load_seconds": ctx.data.s5_load_seconds,
        "month": [d.isoformat() for d in month],
        "year": [d.isoformat() for d in year],
        "requests": cfg["s5_requests"],
        "budget_s": cfg["s5_budget_s"],
    }
    with Deployment(ctx, tag="s5") as deployment:
        out["timing"] = asyncio.run(
            reports_scenario.time_requests(
                deployment.ports[0],
                s5.supervisor.session_key,
                items,
                repetitions=cfg["s5_requests"],
                warmup=1,
                timeout=600,
                budget_s=cfg["s5_budget_s"],
            )
        )
    out["queries"] = reports_scenario.count_queries(s5.supervisor.session_key, items)
    out["explain"] = explain(out["queries"], limit=3)
    return out


SCENARIOS = {
    "s1": ("chat_latency", scenario_chat_latency),
    "s2": ("connections", scenario_connections),
    "s3": ("allocation", scenario_allocation),
    "s4": ("pages", scenario_pages),
    "s5": ("reports", scenario_reports),
}


# ---------------------------------------------------------------------------------------------------------


def machine_facts() -> dict:
    def version(package: str) -> str | None:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as get

        try:
            return get(package)
        except PackageNotFoundError:
            return None

    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average_at_start": os.getloadavg(),
        "git": git.stdout.strip() + (" (uncommitted changes)" if dirty.stdout.strip() else ""),
        "packages": {
            name: version(name)
            for name in (
                "django",
                "channels",
                "channels-redis",
                "daphne",
                "twisted",
                "uvicorn",
                "websockets",
                "redis",
                "psycopg",
                "celery",
            )
        },
        "server_core": SERVER_CORE,
        "loadgen_core": LOADGEN_CORE,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run of about two minutes")
    parser.add_argument("--only", default="s1,s2,s3,s4,s5", help="scenarios to run, e.g. s1,s3")
    parser.add_argument(
        "--compare",
        default=None,
        help=f"scenario 1 comparison deployments ({', '.join(COMPARISONS)}); 'none' for none",
    )
    parser.add_argument(
        "--targets", default="raw,relay,product", help="scenario 1 and 2 targets to run (raw, relay, product)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help='override a profile setting, e.g. --set s1_chats=500 --set "s1_steps=[[100,20]]"',
    )
    parser.add_argument("--no-docs", action="store_true", help="do not refresh docs/performance.md")
    args = parser.parse_args(argv)

    profile = "quick" if args.quick else "full"
    cfg = dict(PROFILES[profile])
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in cfg:
            parser.error(f"unknown setting {key}")
        cfg[key] = json.loads(value)
    which = {item.strip() for item in args.only.split(",") if item.strip()}
    unknown = which - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {sorted(unknown)}")
    compare = (
        cfg["compare"] if args.compare is None else [c for c in args.compare.split(",") if c and c != "none"]
    )
    for name in compare:
        if name not in COMPARISONS:
            parser.error(f"unknown comparison {name}")

    os.sched_setaffinity(0, {LOADGEN_CORE})
    open_files = raise_open_files()
    started = time.time()
    run_dir = RESULTS / (time.strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick else ""))
    log_dir = run_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = deployment_env(new_secret_key())
    log(f"{profile} run into {run_dir.relative_to(ROOT)}; open-files limit {open_files}")

    redis_client = redis.Redis.from_url(REDIS_URL)
    redis_client.flushdb()
    fixtures.prepare_database(env)
    fixtures.setup_django(env)
    data = make_fixtures(cfg, which)
    ctx = SimpleNamespace(
        quick=args.quick,
        targets={item.strip() for item in args.targets.split(",") if item.strip()},
        env=env,
        run_dir=run_dir,
        log_dir=log_dir,
        data=data,
        compare=compare,
        counters=counters_factory(redis_client),
    )

    results: dict = {
        "profile": profile,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
        "machine": machine_facts(),
        "config": cfg,
        "scenarios": {},
    }
    results["machine"]["open_files_limit"] = open_files
    path = run_dir / "results.json"
    failed = False
    for key in SCENARIOS:
        if key not in which:
            continue
        name, function = SCENARIOS[key]
        speed_before = machine_speed()
        log(f"scenario {key} ({name}) starts; machine speed probe {speed_before}")
        scenario_started = time.time()
        try:
            result = function(ctx, cfg)
        except Exception as error:
            failed = True
            result = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
            log(f"scenario {key} failed: {error}")
        result["seconds"] = round(time.time() - scenario_started, 1)
        result["machine_speed"] = {"before": speed_before, "after": machine_speed()}
        results["scenarios"][name] = result
        write_json(path, results)
        procs.stop_all()
    results["seconds"] = round(time.time() - started, 1)
    results["machine"]["load_average_at_end"] = os.getloadavg()
    write_json(path, results)
    markdown = report.write(
        results,
        run_dir,
        update_docs=not args.quick and not args.no_docs and which >= set(report.FIGURES_SCENARIOS),
        update_reports_docs=not args.quick and not args.no_docs and "s5" in which,
    )
    latest = RESULTS / "latest"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(run_dir.name)
    print(markdown)
    log(f"done in {results['seconds']:.0f}s: {path.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
