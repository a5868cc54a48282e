"""The run's report: a Markdown table of each figure against its target and its ratio to the baselines, and
the latency-against-load plot. `python -m bench.report bench/results/<run>/results.json` re-renders one."""

import shutil
import sys
from pathlib import Path

from bench.common import ROOT

DOC = ROOT / "docs" / "performance.md"
DOC_PLOT = ROOT / "docs" / "performance-latency.png"
START, END = "<!-- bench:figures:start -->", "<!-- bench:figures:end -->"
# Scenario 5 (reports) has a block of its own, refreshed by any full-profile run that includes it.
REPORTS_START, REPORTS_END = "<!-- bench:reports:start -->", "<!-- bench:reports:end -->"
# The scenarios of the figures block: a full run of all of them refreshes it.
FIGURES_SCENARIOS = ("s1", "s2", "s3", "s4")
# Scenario 5's targets: p95 for a month's range and for a year's, ms.
REPORT_TARGETS_MS = {"month": 300, "year": 1000}


def _fmt(value, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        text = f"{value:,.{digits}f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def _ratio(value, base) -> str:
    if value is None or not base:
        return "—"
    return f"{value / base:.2f}×"


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**not met**")


def _headline(target: dict | None) -> dict | None:
    if not target or "steps" not in target:
        return None
    for step in target["steps"]:
        if step.get("label") == "headline":
            return step
    return target["steps"][-1] if target["steps"] else None


def chat_latency_section(s1: dict) -> list[str]:
    if "error" in s1:
        return [f"Scenario 1 failed: `{s1['error']}`"]
    targets = s1["targets"]
    product, relay, raw = (_headline(targets.get(k)) for k in ("product", "relay", "raw"))
    rate = s1["headline_rate"]
    lines = [
        f"### 1. {s1['chats']:,} concurrent chats ({s1['connections']:,} connections), {rate} messages/s"
        " in all",
        "",
        "| figure | target | product | bare Channels relay | raw websockets | product / relay | product /"
        " raw |"
        " verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def get(step, direction, key):
        return (step or {}).get(direction, {}).get(key)

    rows = [
        ("p50 customer→agent", "c2a", "p50_ms", "< 15 ms", lambda v, b: v is not None and v < 15),
        (
            "p99 customer→agent",
            "c2a",
            "p99_ms",
            "< 100 ms, ≤ 3× relay",
            lambda v, b: v is not None and v < 100 and b is not None and v <= 3 * b,
        ),
        ("p99.9 customer→agent", "c2a", "p999_ms", "", None),
        ("p50 agent→customer", "a2c", "p50_ms", "< 15 ms", lambda v, b: v is not None and v < 15),
        (
            "p99 agent→customer",
            "a2c",
            "p99_ms",
            "< 100 ms, ≤ 3× relay",
            lambda v, b: v is not None and v < 100 and b is not None and v <= 3 * b,
        ),
        ("p99.9 agent→customer", "a2c", "p999_ms", "", None),
        ("p50 both ways", "both", "p50_ms", "< 15 ms", lambda v, b: v is not None and v < 15),
        (
            "p99 both ways",
            "both",
            "p99_ms",
            "< 100 ms, ≤ 3× relay",
            lambda v, b: v is not None and v < 100 and b is not None and v <= 3 * b,
        ),
        ("p99.9 both ways", "both", "p999_ms", "", None),
    ]
    for label, direction, key, target, check in rows:
        value, base, floor = (
            get(product, direction, key),
            get(relay, direction, key),
            get(raw, direction, key),
        )
        verdict = _met(check(value, base)) if check else "—"
        lines.append(
            f"| {label} | {target or '—'} | {_fmt(value, 'ms', 2)} | {_fmt(base, 'ms', 2)} |"
            f" {_fmt(floor, 'ms', 2)} |"
            f" {_ratio(value, base)} | {_ratio(value, floor)} | {verdict} |"
        )
    cpu = [(s or {}).get("server_cpu_ms_per_msg") for s in (product, relay, raw)]
    lines.append(
        f"| server CPU per message | — | {_fmt(cpu[0], 'ms', 3)} | {_fmt(cpu[1], 'ms', 3)} |"
        f" {_fmt(cpu[2], 'ms', 3)} |"
        f" {_ratio(cpu[0], cpu[1])} | {_ratio(cpu[0], cpu[2])} | — |"
    )
    util = [(s or {}).get("server_cpu_util") for s in (product, relay, raw)]
    lines.append(
        f"| server process CPU use | — | {_fmt(util[0] and util[0] * 100, '%', 0)} |"
        f" {_fmt(util[1] and util[1] * 100, '%', 0)} | {_fmt(util[2] and util[2] * 100, '%', 0)} | — | — |"
        " — |"
    )
    lost = [(s or {}).get("lost") for s in (product, relay, raw)]
    lines.append(
        f"| messages lost | 0 | {_fmt(lost[0])} | {_fmt(lost[1])} | {_fmt(lost[2])} | — | — | "
        f"{_met(lost[0] == 0 if lost[0] is not None else None)} |"
    )
    if product and product.get("ack"):
        lines.append(
            f"| p50 / p99 sender's ack (product) | — | {_fmt(product['ack'].get('p50_ms'), 'ms', 2)} / "
            f"{_fmt(product['ack'].get('p99_ms'), 'ms', 2)} | — | — | — | — | — |"
        )
    if product and product.get("per_msg"):
        per = product["per_msg"]
        lines += [
            "",
            "Per message at the headline rate (product): "
            + ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in per.items())
            + " (PostgreSQL and Redis counters are server-wide; Redis is shared with other work on the"
            " machine).",
        ]
    lines += ["", "Latency against load (p50 / p99 / p99.9, both directions, ms; messages lost):", ""]
    header = (
        "| rate/s | "
        + " | ".join(
            name
            for name, key in (
                ("product", "product"),
                ("bare Channels relay", "relay"),
                ("raw websockets", "raw"),
            )
            if key in targets
        )
        + " |"
    )
    lines += [header, "|" + " --- |" * (header.count("|") - 1)]
    rates = [rate for rate, _ in s1["steps"]]
    for index, step_rate in enumerate(rates):
        cells = []
        for key in ("product", "relay", "raw"):
            if key not in targets:
                continue
            steps = targets[key].get("steps", [])
            step = steps[index] if index < len(steps) else None
            if step is None or "both" not in step:
                cells.append(step.get("skipped", "—") if step else "—")
                continue
            both = step["both"]
            cells.append(
                f"{_fmt(both.get('p50_ms'), '', 1)} / {_fmt(both.get('p99_ms'), '', 1)} / "
                f"{_fmt(both.get('p999_ms'), '', 1)}; {step['lost']}"
                + (" (saturated)" if step.get("saturated") else "")
            )
        lines.append(f"| {step_rate:g} | " + " | ".join(cells) + " |")
    comparisons = s1.get("comparisons") or {}
    if comparisons:
        lines += [
            "",
            f"Comparison deployments ({s1['chats']:,} chats; shorter runs; each row one rate):",
            "",
            "| deployment | rate/s | p50 | p99 | p99.9 | lost | server CPU/msg | p99 vs same-rate"
            " reference |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        references = {"product": targets.get("product", {}), "relay": targets.get("relay", {})}
        for name, result in comparisons.items():
            label = f"{name}: {result.get('note', '')}"
            if "error" in result:
                lines.append(f"| {label} | — | failed: {result['error']} | | | | | |")
                continue
            reference = references.get(result.get("kind", "product"), {})
            by_rate = {step["rate"]: step for step in reference.get("steps", []) if "both" in step}
            for step in result.get("steps", []):
                if "both" not in step:
                    lines.append(f"| {label} | {step['rate']:g} | {step.get('skipped', '—')} | | | | | |")
                    continue
                ref = by_rate.get(step["rate"])
                lines.append(
                    f"| {label} | {step['rate']:g} | {_fmt(get(step, 'both', 'p50_ms'), 'ms', 2)} |"
                    f" {_fmt(get(step, 'both', 'p99_ms'), 'ms', 2)} |"
                    f" {_fmt(get(step, 'both', 'p999_ms'), 'ms', 2)} |"
                    f" {_fmt(step.get('lost'))}{' (saturated)' if step.get('saturated') else ''} |"
                    f" {_fmt(step.get('server_cpu_ms_per_msg'), 'ms', 3)} |"
                    f" {_ratio(get(step, 'both', 'p99_ms'), get(ref, 'both', 'p99_ms'))} vs"
                    f" {'the bare relay' if result.get('kind') == 'relay' else 'the product as is'} |"
                )
    return lines


def connections_section(s2: dict) -> list[str]:
    if "error" in s2:
        return [f"Scenario 2 failed: `{s2['error']}`"]
    t = s2["targets"]
    product, relay, raw = t.get("product", {}), t.get("relay", {}), t.get("raw", {})
    limit = product.get("p95_limit_ms", 250)

    def maxc(r):
        if not r:
            return None
        value = r.get("max_connections_within_limit")
        return f"≥ {value:,}" if r.get("reached_cap") or "budget" in r.get("stop_reason", "") else _fmt(value)

    pm, rm, wm = (r.get("max_connections_within_limit") for r in (product, relay, raw))
    lines = [
        f"### 2. Idle connections, stepped by {product.get('step_connections', 0):,} until a probe's p95"
        " passes "
        f"{limit:g} ms",
        "",
        "| figure | target | product | bare Channels relay | raw websockets | product / relay | product /"
        " raw |"
        " verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| connections per process | ≥ 5,000 | {maxc(product)} | {maxc(relay)} | {maxc(raw)} |"
        f" {_ratio(pm, rm)} |"
        f" {_ratio(pm, wm)} | {_met(pm >= 5000 if pm is not None else None)} |",
    ]
    for label, key in (
        ("memory per connection at 5,000", "kib_per_connection_at_5000"),
        ("memory per connection at the maximum", "kib_per_connection_at_max"),
    ):
        values = [r.get(key) for r in (product, relay, raw)]
        lines.append(
            f"| {label} | ≤ 64 KiB | {_fmt(values[0], 'KiB')} | {_fmt(values[1], 'KiB')} |"
            f" {_fmt(values[2], 'KiB')} |"
            f" {_ratio(values[0], values[1])} | {_ratio(values[0], values[2])} |"
            f" {_met(values[0] <= 64 if values[0] is not None else None)} |"
        )
    drops = [r.get("dropped_by_server") for r in (product, relay, raw)]
    lines.append(
        f"| idle connections closed by the server during the steps | 0 | {_fmt(drops[0])} |"
        f" {_fmt(drops[1])} |"
        f" {_fmt(drops[2])} | — | — | {_met(drops[0] == 0 if drops[0] is not None else None)} |"
    )
    lines.append(
        f"| why the stepping stopped | — | {product.get('stop_reason', '—')} |"
        f" {relay.get('stop_reason', '—')} |"
        f" {raw.get('stop_reason', '—')} | — | — | — |"
    )
    steps = product.get("steps", [])
    if steps:
        lines += ["", "Product steps (connections: probe p50 / p95 ms, RSS MB, connect rate per s):", ""]
        lines.append(
            ", ".join(
                f"{s['connections']:,}: {_fmt(s['probe'].get('p50_ms'))} /"
                f" {_fmt(s['probe'].get('p95_ms'))} ms,"
                f" {s['server_rss_mb']:g} MB, {_fmt(s.get('connect_rate'))}/s"
                for s in steps
            )
        )
    return lines


def allocation_section(s3: dict) -> list[str]:
    if "error" in s3:
        return [f"Scenario 3 failed: `{s3['error']}`"]
    checks, burst, churn = s3["checks"], s3["burst"], s3["churn"]
    refill, client = checks["server_refill"], s3.get("client_refill", {})
    rate = burst.get("allocations_per_s")
    refill_p99 = refill.get("p99_ms")
    lines = [
        f"### 3. Allocation: {s3['agents']} agents × {s3['capacity']} chats, a backlog of {s3['backlog']:,}",
        "",
        "| figure | target | measured | verdict |",
        "| --- | --- | --- | --- |",
        f"| allocations per second, burst (every agent becomes Available) | ≥ 200 | {_fmt(rate)}"
        f" ({_fmt(burst.get('allocated'))} in {_fmt(burst.get('seconds_to_last_allocation'), 's', 2)}) |"
        f" {_met(rate >= 200 if rate is not None else None)} |",
        f"| allocations per second, churn (completions offered at {s3['churn_rate']}/s) | — |"
        f" {_fmt(churn.get('allocations_per_s'))} | — |",
        f"| freed capacity → next allocation, p50 / p99 / max (SQL: closed_at → allocated_at) | p99 ≤ 1 s |"
        f" {_fmt(refill.get('p50_ms'), 'ms', 1)} / {_fmt(refill_p99, 'ms', 1)} /"
        f" {_fmt(refill.get('max_ms'), 'ms', 1)}"
        f" ({refill.get('count', 0)} slots) |"
        f" {_met(refill_p99 <= 1000 if refill_p99 is not None else None)} |",
        "| completion sent → bell heard by the agent, p50 / p99 (client) | — |"
        f" {_fmt(client.get('p50_ms'), 'ms', 1)} /"
        f" {_fmt(client.get('p99_ms'), 'ms', 1)} | — |",
        f"| double allocations | 0 | {checks['double_allocations']} |"
        f" {_met(checks['double_allocations'] == 0)} |",
        f"| capacity breaches | 0 | {checks['capacity_breaches']}"
        f" (by transition-start stamps: {checks.get('capacity_breaches_by_start_stamps', '—')}) |"
        f" {_met(checks['capacity_breaches'] == 0)} |",
        f"| freed slots not refilled | — | {checks['freed_slots_not_refilled']} of {checks['freed_slots']}"
        " | — |",
        f"| most PostgreSQL connections open to the bench database | — | {_fmt(s3.get('pg_backends_max'))}"
        " | — |",
    ]
    if s3.get("http_errors"):
        lines.append(f"| HTTP errors | 0 | {s3['http_errors']} | **check** |")
    if s3.get("aborted"):
        lines.append(f"| load stopped early | — | {s3['aborted']} | **check** |")
    for name, result in (s3.get("comparisons") or {}).items():
        if "error" in result:
            lines.append(f"| comparison {name} | — | failed: {result['error']} | — |")
            continue
        c_checks, c_burst = result["checks"], result["burst"]
        lines.append(
            f"| comparison {name} ({result.get('note', '')}): burst / churn allocations per s, refill p99,"
            f" doubles, breaches | — | {_fmt(c_burst.get('allocations_per_s'))} /"
            f" {_fmt(result['churn'].get('allocations_per_s'))},"
            f" {_fmt(c_checks['server_refill'].get('p99_ms'), 'ms')},"
            f" {c_checks['double_allocations']}, {c_checks['capacity_breaches']} | — |"
        )
    http = s3.get("http", {})
    if http:
        lines += [
            "",
            "Inbox request times in the run (p50 / p99 ms): "
            + ", ".join(
                f"{kind} {_fmt(h.get('p50_ms'))} / {_fmt(h.get('p99_ms'))}"
                for kind, h in http.items()
                if h.get("count")
            ),
        ]
    return lines


def pages_section(s4: dict) -> list[str]:
    if "error" in s4:
        return [f"Scenario 4 failed: `{s4['error']}`"]
    base = s4.get("baseline", {}).get("p95_ms")
    lines = [
        f"### 4. Agent pages with {s4['inbox_chats']} chats in the inbox and {s4['waiting']:,} waiting",
        "",
        f"| page | target | p50 | p95 | p95 / bare Django page | queries ({s4['small']['inbox_chats']} held,"
        f" {s4['small']['waiting']} waiting → {s4['inbox_chats']} held, {s4['waiting']:,} waiting) |"
        " verdict |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, timing in s4.get("timing", {}).items():
        q_small = s4.get("queries_small", {}).get(name, {}).get("queries")
        q_large = s4.get("queries", {}).get(name, {}).get("queries")
        p95 = timing.get("p95_ms")
        ok = (
            p95 is not None and p95 < 50 and q_small == q_large and timing.get("statuses", {}).keys() == {200}
        )
        lines.append(
            f"| {name} `{timing['path'].split('/inbox/')[-1] or '/inbox/'}` | < 50 ms, constant queries |"
            f" {_fmt(timing.get('p50_ms'), 'ms', 2)} | {_fmt(p95, 'ms', 2)} | {_ratio(p95, base)} |"
            f" {_fmt(q_small)} → {_fmt(q_large)} | {_met(ok)} |"
        )
    lines.append(
        "| bare Django page (login form, no queries) | — |"
        f" {_fmt(s4.get('baseline', {}).get('p50_ms'), 'ms', 2)} |"
        f" {_fmt(base, 'ms', 2)} | 1.00× | — | — |"
    )
    if s4.get("timing_with_history"):
        lines += [
            "",
            f"With {s4['history_closed_chats']:,} closed chats in the queue's history (p50 / p95 ms,"
            " queries): "
            + ", ".join(
                f"{name} {_fmt(t.get('p50_ms'), '', 2)} / {_fmt(t.get('p95_ms'), '', 2)},"
                f" {s4.get('queries_with_history', {}).get(name, {}).get('queries')} q"
                for name, t in s4["timing_with_history"].items()
            ),
        ]
    return lines


def reports_section(s5: dict) -> list[str]:
    if "error" in s5:
        return [f"Scenario 5 failed: `{s5['error']}`"]
    lines = [
        f"### 5. Reports over {s5['interactions']:,} interactions (a year of one company;"
        f" {s5['other_company_interactions']:,} of another company's beside them,"
        f" {s5['status_intervals']:,} agent status intervals)",
        "",
        f"Month {s5['month'][0]} to {s5['month'][1]}, year {s5['year'][0]} to {s5['year'][1]};"
        f" up to {s5['requests']} requests each after a warm-up one, one at a time (at least 3 once"
        f" {s5.get('budget_s', '—')} s are spent: `measured` in `results.json`); data loaded and analysed in"
        f" {_fmt(s5.get('load_seconds'), 's')}. The pages' times are to the end of the page; the exports'"
        " to their first byte, to their first data row and to their end (the body read as it streams).",
        "",
        "| request | target (p95) | p50 | p95 | first byte p50 / p95 | first row p95 | rows | bytes |"
        " queries | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, t in s5.get("timing", {}).items():
        target = REPORT_TARGETS_MS[t["range"]]
        total, first = t.get("total", {}), t.get("first_byte", {})
        p95 = total.get("p95_ms")
        ok_status = set(t.get("statuses", {})) == {"200"}
        queries = s5.get("queries", {}).get(name, {}).get("queries")
        if t["kind"] == "csv":
            first_cell = f"{_fmt(first.get('p50_ms'), 'ms', 1)} / {_fmt(first.get('p95_ms'), 'ms', 1)}"
            row_cell = _fmt((t.get("first_row") or {}).get("p95_ms"), "ms", 1)
            first_ok = first.get("p95_ms") is not None and first["p95_ms"] < target
            end_ok = p95 is not None and p95 < target
            verdict = _met(ok_status and end_ok) if first_ok or not ok_status else "**not met** (first byte)"
            if ok_status and first_ok and not end_ok:
                verdict = "first byte met; **end not met**"
        else:
            first_cell = row_cell = "—"
            verdict = _met(ok_status and p95 is not None and p95 < target)
        lines.append(
            f"| {name.replace('_', ' ')} `{t['path'].split('?')[0]}` | < {target:,} ms |"
            f" {_fmt(total.get('p50_ms'), 'ms', 1)} | {_fmt(p95, 'ms', 1)} | {first_cell} | {row_cell} |"
            f" {_fmt(t.get('rows'))} | {_fmt(t.get('bytes'))} | {_fmt(queries)} | {verdict} |"
        )
    slow = [plan for plan in s5.get("explain", []) if plan.get("plan")]
    if slow:
        lines += [
            "",
            "Slowest queries (EXPLAIN ANALYZE in `results.json`): "
            + "; ".join(f"{plan['ms']:.0f} ms: `{plan['sql'][:90]}…`" for plan in slow),
        ]
    return lines


def markdown(results: dict, *, only: tuple[str, ...] | None = None) -> str:
    machine = results.get("machine", {})
    scenarios = results.get("scenarios", {})
    lines = [
        f"Run of {results.get('started')} ({results.get('profile')} profile,"
        f" {results.get('seconds', 0):.0f} s),"
        f" commit {machine.get('git')}, {machine.get('cpus')} cores, load average at start"
        f" {', '.join(f'{x:.2f}' for x in machine.get('load_average_at_start', []))}.",
        "",
    ]
    sections = (
        ("chat_latency", chat_latency_section),
        ("connections", connections_section),
        ("allocation", allocation_section),
        ("pages", pages_section),
        ("reports", reports_section),
    )
    for key, render in sections:
        if key in scenarios and (only is None or key in only):
            lines += render(scenarios[key]) + [""]
    speeds = [
        f"{key.replace('_', ' ')} {speed['before']['median_ms']:.0f} → {speed['after']['median_ms']:.0f}"
        for key, result in scenarios.items()
        if (speed := result.get("machine_speed")) and (only is None or key in only)
    ]
    if speeds:
        lines += [
            "Machine speed probe, before → after each scenario (ms for the same pure-Python loop on the"
            " load generator's core; lower is faster): " + ", ".join(speeds) + ".",
            "",
        ]
    return "\n".join(lines)


def plot(results: dict, path: Path) -> bool:
    s1 = results.get("scenarios", {}).get("chat_latency", {})
    if not s1.get("targets"):
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    styles = {
        "product": ("#c2410c", "product"),
        "relay": ("#2563eb", "bare Channels relay"),
        "raw": ("#16a34a", "raw websockets"),
    }
    for key, (colour, label) in styles.items():
        steps = [s for s in s1["targets"].get(key, {}).get("steps", []) if "both" in s]
        if not steps:
            continue
        rates = [s["rate"] for s in steps]
        for pct, style in (("p50_ms", "-"), ("p99_ms", "--")):
            values = [s["both"].get(pct) for s in steps]
            ax.plot(rates, values, style, marker="o", color=colour, label=f"{label} {pct[:3]}")
    for name, result in (s1.get("comparisons") or {}).items():
        steps = [s for s in result.get("steps", []) if "both" in s]
        if len(steps) > 1:
            rates = [s["rate"] for s in steps]
            ax.plot(
                rates,
                [s["both"].get("p50_ms") for s in steps],
                "-",
                marker="s",
                color="#7c3aed",
                label=f"product, {name} changes p50",
            )
            ax.plot(
                rates,
                [s["both"].get("p99_ms") for s in steps],
                "--",
                marker="s",
                color="#7c3aed",
                label=f"product, {name} changes p99",
            )
    ax.axhline(100, color="grey", linewidth=0.8, linestyle=":")
    ax.axhline(15, color="grey", linewidth=0.8, linestyle=":")
    ax.set_yscale("log")
    ax.set_xlabel("total messages per second (both directions)")
    ax.set_ylabel("delivery latency, ms (log)")
    ax.set_title(f"{s1.get('chats', 0):,} chats: message latency against load")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def _replace_block(start: str, end: str, text: str) -> None:
    if not DOC.exists():
        return
    doc = DOC.read_text()
    if start in doc and end in doc:
        head, rest = doc.split(start, 1)
        _, tail = rest.split(end, 1)
        DOC.write_text(f"{head}{start}\n{text}\n{end}{tail}")


def write(results: dict, run_dir: Path, *, update_docs: bool, update_reports_docs: bool = False) -> str:
    """The run's report.md (and plot); `update_docs` refreshes the figures block of docs/performance.md
    (scenarios 1–4), `update_reports_docs` its reports block (scenario 5)."""
    text = markdown(results)
    (run_dir / "report.md").write_text(text + "\n")
    plotted = plot(results, run_dir / "latency.png")
    if update_docs:
        if plotted:
            shutil.copyfile(run_dir / "latency.png", DOC_PLOT)
        _replace_block(
            START, END, markdown(results, only=("chat_latency", "connections", "allocation", "pages"))
        )
    if update_reports_docs and "reports" in results.get("scenarios", {}):
        _replace_block(REPORTS_START, REPORTS_END, markdown(results, only=("reports",)))
    return text


if __name__ == "__main__":
    import json

    source = Path(sys.argv[1])
    data = json.loads(source.read_text())
    print(
        write(
            data,
            source.parent,
            update_docs="--docs" in sys.argv,
            update_reports_docs="--reports-docs" in sys.argv,
        )
    )
