"""Scenario 2: idle connections stepped up until a probe message's p95 passes the limit.

At each step another block of idle conversations (a customer and an agent connection each) is opened and
left idle; then a few probe chats, connected from the start, exchange messages at a low rate, and the
probe latency's p95 is taken. The maximum per process is the last step whose probe p95 stayed under the
limit with every connection of the step accepted. Memory per connection is the server process's RSS growth
over the idle connections it holds.
"""

import asyncio
from collections.abc import Callable

from bench.common import log, now
from bench.loadgen import ConnectStats
from bench.pairs import Pair, PairConnector, abort_all
from bench.procs import Proc
from bench.scenarios.chat_latency import LatencyRun


async def run_connections(
    name: str,
    server: Proc,
    *,
    product: bool,
    probe_pairs: list[Pair],
    idle_pairs: Callable[[int, int], list[Pair]],
    step_connections: int,
    cap: int,
    budget_s: float,
    p95_limit_ms: float,
    probe_rate: float,
    probe_seconds: float,
) -> dict:
    started = now()
    probes = LatencyRun(f"{name} probe", probe_pairs, [server], product=product)
    result: dict = {
        "name": name,
        "step_connections": step_connections,
        "cap": cap,
        "p95_limit_ms": p95_limit_ms,
    }
    idle: list[Pair] = []
    connector = PairConnector(lambda conn, frame: None)
    try:
        result["probe_connect"] = await probes.connect(concurrency=16)
        await probes.run_step(probe_rate, probe_seconds, label="warm-up", drain=5, record=False)
        rss0 = server.rss()
        result["server_rss_mb_probes_only"] = round(rss0 / 2**20, 1)
        steps = []
        stop_reason = "cap reached"
        level = 0
        previous_rss, previous_level = rss0, 0
        total_failed = 0
        while True:
            if level + step_connections > cap:
                stop_reason = f"cap of {cap} connections reached (open-files limit of the load generator)"
                break
            if now() - started > budget_s:
                stop_reason = f"time budget of {budget_s:.0f}s spent"
                break
            new = idle_pairs(len(idle), step_connections // 2)
            stats = ConnectStats()
            connect_started = now()
            await connector.connect(new, concurrency=64, stats=stats)
            connect_seconds = now() - connect_started
            idle += new
            await asyncio.sleep(1.0)
            level = sum(
                (pair.customer is not None and pair.customer.open)
                + (pair.agent is not None and pair.agent.open)
                for pair in idle
            )
            cpu_before = server.cpu_seconds()
            probe = await probes.run_step(
                probe_rate, probe_seconds, label=f"{level} idle", drain=5, record=False
            )
            cpu_idle = server.cpu_seconds() - cpu_before
            first_p95 = probe["both"].get("p95_ms")
            if first_p95 is None or first_p95 > p95_limit_ms:
                # One slow probe window on a shared machine is not yet the limit: probe once more.
                await asyncio.sleep(1.0)
                probe = await probes.run_step(
                    probe_rate, probe_seconds, label=f"{level} idle, again", drain=5, record=False
                )
            rss = server.rss()
            both = probe["both"]
            lost_share = probe["lost"] / max(probe["sent"], 1)
            p95 = both.get("p95_ms")
            failed_share = stats.failed / max(stats.failed + stats.ok, 1)
            total_failed += stats.failed
            dropped = len(idle) * 2 - level - total_failed
            step = {
                "connections": level,
                "dropped_by_server_so_far": dropped,
                "attempted": len(idle) * 2,
                "connect": stats.summary(),
                "connect_seconds": round(connect_seconds, 2),
                "connect_rate": round(stats.ok / connect_seconds, 1) if connect_seconds else None,
                "probe": both,
                "probe_lost": probe["lost"],
                "first_probe_p95_ms": first_p95,
                "server_rss_mb": round(rss / 2**20, 1),
                "rss_per_connection_kib": round((rss - rss0) / max(level, 1) / 1024, 1),
                "marginal_kib_per_connection": round(
                    (rss - previous_rss) / max(level - previous_level, 1) / 1024, 1
                ),
                "server_fds": server.num_fds(),
                "server_cpu_util_during_probe": round(cpu_idle / max(probe["pace"]["elapsed_s"], 1e-9), 3),
            }
            previous_rss, previous_level = rss, level
            steps.append(step)
            ok = p95 is not None and p95 <= p95_limit_ms and lost_share <= 0.01 and failed_share == 0
            step["within_limit"] = ok
            log(
                f"{name}: {level} idle connections, probe p95 {p95} ms, lost {probe['lost']}, "
                f"failed connects {stats.failed}, rss {step['server_rss_mb']} MB "
                f"({step['rss_per_connection_kib']} KiB/conn)"
            )
            if not server.alive():
                stop_reason = "server process exited"
                break
            if not ok:
                stop_reason = (
                    f"probe p95 {p95} ms over {p95_limit_ms} ms"
                    if p95 is None or p95 > p95_limit_ms
                    else f"{stats.failed} connections refused or failed"
                    if failed_share
                    else f"{probe['lost']} probe messages lost"
                )
                break
        result["steps"] = steps
        result["stop_reason"] = stop_reason
        result["dropped_by_server"] = steps[-1]["dropped_by_server_so_far"] if steps else 0
        passing = [step for step in steps if step["within_limit"]]
        best = passing[-1] if passing else None
        result["max_connections_within_limit"] = best["connections"] if best else 0
        result["reached_cap"] = stop_reason.startswith("cap")
        result["kib_per_connection_at_max"] = best["rss_per_connection_kib"] if best else None
        at_5000 = [step for step in steps if step["connections"] >= 5000]
        result["kib_per_connection_at_5000"] = at_5000[0]["rss_per_connection_kib"] if at_5000 else None
    finally:
        probes.close()
        abort_all(idle)
    result["seconds"] = round(now() - started, 1)
    return result
