"""Scenario 4: the agent inbox and queue pages at size, timed over HTTP and their queries counted.

Timing: one agent's browser fetching each page in turn over a keep-alive connection to the deployment
(after a warm-up), with nothing else loading the server. Queries: the same pages through Django's test
client in this process with CaptureQueriesContext, at a small size and at the full size: a constant
number of queries means the count does not grow with the inbox or the queue.
"""

import asyncio

from bench.common import Hist, log
from bench.loadgen import HttpClient


async def time_pages(
    port: int, session_key: str, pages: list[tuple[str, str, bool]], *, requests: int, warmup: int
) -> dict:
    client = HttpClient(port)
    results = {}
    try:
        for name, path, htmx in pages:
            headers = {"Cookie": f"sessionid={session_key}"} if session_key else {}
            if htmx:
                headers["HX-Request"] = "true"
            hist = Hist()
            statuses: dict[int, int] = {}
            size = 0
            for i in range(warmup + requests):
                started = asyncio.get_running_loop().time()
                response = await client.request("GET", path, headers=headers)
                elapsed = asyncio.get_running_loop().time() - started
                statuses[response.status] = statuses.get(response.status, 0) + 1
                size = len(response.body)
                if i >= warmup:
                    hist.record(elapsed)
            results[name] = {
                "path": path,
                "htmx": htmx,
                "statuses": statuses,
                "bytes": size,
                **hist.summary(),
            }
            log(
                f"page {name}: p50 {hist.pct(50)} ms, p95 {hist.pct(95)} ms, {size} bytes, statuses"
                f" {statuses}"
            )
    finally:
        await client.close()
    return results


def count_queries(user_id: int, pages: list[tuple[str, str, bool]]) -> dict:
    """Each page's queries through the test client: how many, and the slowest few."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(pk=user_id))
    result = {}
    for name, path, htmx in pages:
        headers = {"HX-Request": "true"} if htmx else {}
        client.get(path, headers=headers)  # warm caches (templates, content types)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path, headers=headers)
        queries = captured.captured_queries
        slowest = sorted(queries, key=lambda q: float(q["time"]), reverse=True)[:3]
        result[name] = {
            "status": response.status_code,
            "queries": len(queries),
            "query_ms_total": round(sum(float(q["time"]) for q in queries) * 1000, 2),
            "slowest": [{"ms": round(float(q["time"]) * 1000, 2), "sql": q["sql"]} for q in slowest],
        }
    return result


def explain(sql_fragment_pages: dict, limit: int = 2) -> list[dict]:
    """EXPLAIN ANALYZE of the slowest captured queries (evidence for index and query changes)."""
    from django.db import connection

    seen, plans = set(), []
    candidates = []
    for page in sql_fragment_pages.values():
        candidates += page.get("slowest", [])
    for query in sorted(candidates, key=lambda q: q["ms"], reverse=True):
        sql = query["sql"]
        if sql in seen or len(plans) >= limit:
            continue
        seen.add(sql)
        try:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                plans.append({"ms": query["ms"], "sql": sql, "plan": [row[0] for row in cursor.fetchall()]})
        except Exception as error:  # a truncated or parameterised statement cannot be explained
            plans.append({"ms": query["ms"], "sql": sql, "error": str(error)[:200]})
    return plans
