"""Scenario 1: N concurrent chats, messages both ways at a fixed total rate, open loop.

Each chat is a customer connection and an agent connection. Messages go customer→agent and agent→customer
alternately, each on a chat drawn at random, at the step's total rate; a message's latency runs from the
time it was due to the moment the other side received it. The same load runs against the raw `websockets`
relay, the bare Channels relay and the product, in that order, each on its own freshly started server.
"""

import asyncio
import os
import random
import secrets
from collections.abc import Callable

import psutil

from bench.common import SERVER_CORE, Hist, log, now
from bench.loadgen import Conn, ConnectStats, LoopLag, pace, quiet_gc
from bench.pairs import Pair, PairConnector, abort_all
from bench.procs import Proc

TEXT_PAD = "Hello, I would like to ask about my order, it has not arrived yet."


def _core_busy(core: int) -> tuple[float, float]:
    times = psutil.cpu_times(percpu=True)[core]
    idle = times.idle + getattr(times, "iowait", 0.0)
    total = sum(times)
    return total - idle, total


SLOW_S = 0.1


class Step:
    def __init__(self, index: int, rate: float, duration: float, label: str = ""):
        self.index = index
        self.rate = rate
        self.duration = duration
        self.label = label
        self.c2a = Hist()
        self.a2c = Hist()
        self.ack = Hist()
        self.sent = 0
        self.send_failed = 0
        self.outstanding = 0
        self.lost = 0
        self.errors: dict[str, int] = {}
        self.result: dict = {}
        self.started = 0.0
        # Messages slower than SLOW_S, by the tenth of a second they were due in (from the step's start):
        # a stall shows as a cluster, queueing as a spread.
        self.slow: dict[int, int] = {}

    def record(self, direction: str, due: float, latency: float) -> None:
        (self.c2a if direction == "c2a" else self.a2c).record(latency)
        if latency > SLOW_S:
            tenth = int((due - self.started) * 10)
            self.slow[tenth] = self.slow.get(tenth, 0) + 1

    def slow_moments(self, top: int = 8) -> list[list[float]]:
        """The tenths of a second with the most slow messages: [seconds into the step, count]."""
        worst = sorted(self.slow.items(), key=lambda item: -item[1])[:top]
        return [[tenth / 10, count] for tenth, count in sorted(worst)]


class LatencyRun:
    """One target's run: connect the pairs, then the warm-up and the steps."""

    def __init__(
        self,
        name: str,
        pairs: list[Pair],
        procs: list[Proc],
        *,
        product: bool,
        counters: Callable[[], dict] | None = None,
        seed: int = 7,
    ):
        self.name = name
        self.pairs = pairs
        self.procs = procs
        self.product = product
        self.counters = counters
        self.random = random.Random(seed)
        self.outstanding: dict[str, tuple[float, str, Step]] = {}
        self.acks: dict[str, tuple[float, Step]] = {}
        self.counter = 0
        self.prefix = secrets.token_hex(4)
        self.steps: list[Step] = []
        self.late = 0
        self.lost_ids: dict[str, str] = {}

    def on_frame(self, conn: Conn, frame: dict) -> None:
        received = now()
        kind = frame.get("type")
        if kind == "message":
            client_id = frame.get("client_id")
            entry = self.outstanding.get(client_id)
            if entry is None:
                if client_id in self.lost_ids and (conn.role == "agent") == (
                    self.lost_ids[client_id] == "c2a"
                ):
                    del self.lost_ids[client_id]
                    self.late += 1
                return
            due, direction, step = entry
            if (direction == "c2a") != (conn.role == "agent"):
                return  # the sender's own copy of its message
            del self.outstanding[client_id]
            step.outstanding -= 1
            step.record(direction, due, received - due)
        elif kind == "ack":
            entry = self.acks.pop(frame.get("client_id"), None)
            if entry is not None:
                entry[1].ack.record(received - entry[0])
        elif kind == "error":
            code = str(frame.get("code"))
            client_id = frame.get("client_id")
            entry = self.outstanding.get(client_id) if client_id else None
            step = entry[2] if entry else (self.steps[-1] if self.steps else None)
            if step is not None:
                step.errors[code] = step.errors.get(code, 0) + 1

    async def connect(self, concurrency: int = 64) -> dict:
        stats = ConnectStats()
        started = now()
        await PairConnector(self.on_frame).connect(self.pairs, concurrency=concurrency, stats=stats)
        await asyncio.sleep(2)  # let the servers finish joining groups after accepting
        ready = [pair for pair in self.pairs if pair.ready]
        log(f"{self.name}: {len(ready)}/{len(self.pairs)} pairs connected in {now() - started:.1f}s")
        self.ready = ready
        return {
            **stats.summary(),
            "pairs_ready": len(ready),
            "pairs": len(self.pairs),
            "seconds": round(now() - started, 2),
        }

    async def _fire(self, step: Step, due: float) -> None:
        pair = self.ready[self.random.randrange(len(self.ready))]
        direction = "c2a" if self.counter % 2 == 0 else "a2c"
        self.counter += 1
        # Unique across runs: the product stores a message once per (chat, client_id) and answers a repeat
        # with the stored one, without broadcasting it again.
        client_id = f"{self.prefix}-{self.counter}"
        conn = pair.sender(direction)
        self.outstanding[client_id] = (due, direction, step)
        step.outstanding += 1
        if self.product:
            self.acks[client_id] = (due, step)
        step.sent += 1
        try:
            await conn.send(pair.frame(direction, client_id, f"{client_id} {TEXT_PAD}"))
        except Exception:
            step.send_failed += 1
            self.outstanding.pop(client_id, None)
            self.acks.pop(client_id, None)
            step.outstanding -= 1

    async def run_step(
        self, rate: float, duration: float, *, label: str = "", drain: float = 10.0, record: bool = True
    ) -> dict:
        step = Step(len(self.steps), rate, duration, label)
        self.steps.append(step)
        me = psutil.Process(os.getpid())
        cpu_before = sum(proc.cpu_seconds() for proc in self.procs)
        self_before = sum(me.cpu_times()[:2])
        busy_before, total_before = _core_busy(SERVER_CORE)
        counters_before = self.counters() if self.counters else None
        started = step.started = now()
        lag = LoopLag().start()
        count = max(1, int(rate * duration))
        paced = await pace(rate, count, lambda k, due: self._fire(step, due))
        drain_deadline = now() + drain
        while step.outstanding > 0 and now() < drain_deadline:
            await asyncio.sleep(0.05)
        given_up = now()
        for client_id, (due, direction, owner) in list(self.outstanding.items()):
            if owner is step:
                del self.outstanding[client_id]
                self.lost_ids[client_id] = direction
                step.lost += 1
                # Counted at its age when the wait ended: a lower bound, so that a saturated server's
                # percentiles are not computed over the lucky messages only.
                step.record(direction, due, given_up - due)
        for client_id, (_, owner) in list(self.acks.items()):
            if owner is step:
                del self.acks[client_id]
        window = now() - started
        loop_lag = lag.stop()
        cpu = sum(proc.cpu_seconds() for proc in self.procs) - cpu_before
        self_cpu = sum(me.cpu_times()[:2]) - self_before
        busy_after, total_after = _core_busy(SERVER_CORE)
        both = Hist()
        both.add(step.c2a)
        both.add(step.a2c)
        delivered = step.c2a.count + step.a2c.count - step.lost
        result = {
            "label": label,
            "rate": rate,
            "duration_s": duration,
            "sent": step.sent,
            "delivered": delivered,
            "lost": step.lost,
            "lost_counted_at_age_ms": round(drain * 1000),
            "send_failed": step.send_failed,
            "errors": step.errors,
            "achieved_rate": round(step.sent / paced["elapsed_s"], 1) if paced["elapsed_s"] else None,
            "pace": paced,
            "c2a": step.c2a.summary(),
            "a2c": step.a2c.summary(),
            "both": both.summary(),
            "server_cpu_ms_per_msg": round(cpu * 1000 / max(step.sent, 1), 3),
            "server_cpu_util": round(cpu / window, 3),
            "server_core_busy": round((busy_after - busy_before) / max(total_after - total_before, 1e-9), 3),
            "loadgen_cpu_util": round(self_cpu / window, 3),
            "loadgen_loop_lag": loop_lag,
            "slow_messages": sum(step.slow.values()),
            "slow_moments": step.slow_moments(),
        }
        if self.product:
            result["ack"] = step.ack.summary()
        if counters_before is not None:
            counters_after = self.counters()
            result["per_msg"] = {
                key: round((counters_after[key] - counters_before[key]) / max(step.sent, 1), 2)
                for key in counters_before
                if isinstance(counters_before[key], int | float)
            }
        step.result = result
        if record:
            both_s = result["both"]
            log(
                f"{self.name} @ {rate:g}/s: p50 {both_s.get('p50_ms')} ms, p99 {both_s.get('p99_ms')} ms, "
                f"p99.9 {both_s.get('p999_ms')} ms, lost {step.lost}, cpu/msg"
                f" {result['server_cpu_ms_per_msg']} ms, "
                f"server util {result['server_cpu_util']}, loadgen lag p99/max"
                f" {loop_lag['p99_ms']}/{loop_lag['max_ms']} ms; over {SLOW_S * 1000:.0f} ms:"
                f" {result['slow_messages']}, most at (s, count) {result['slow_moments']}"
            )
        return result

    def close(self) -> None:
        abort_all(self.pairs)


def _saturated(step: dict) -> bool:
    """The server fell behind the offered load: messages missed the drain window or waited seconds."""
    p50 = step["both"].get("p50_ms")
    return step["lost"] > 0.05 * max(step["sent"], 1) or (p50 is not None and p50 > 1000)


async def _wait_quiet(procs: list[Proc], limit: float = 45.0) -> float:
    """After a saturated step, wait until the servers have worked off their backlog (CPU below 15%)."""
    started = now()
    while now() - started < limit:
        before = sum(proc.cpu_seconds() for proc in procs)
        await asyncio.sleep(1.0)
        if sum(proc.cpu_seconds() for proc in procs) - before < 0.15 * len(procs):
            break
    return round(now() - started, 1)


async def run_target(
    name: str,
    pairs: list[Pair],
    procs: list[Proc],
    *,
    product: bool,
    steps: list[tuple[float, float]],
    headline: float,
    warmup: tuple[float, float],
    drain: float,
    counters: Callable[[], dict] | None = None,
) -> dict:
    run = LatencyRun(name, pairs, procs, product=product, counters=counters)
    result: dict = {"name": name}
    with quiet_gc():
        return await _run_target(run, result, procs, steps, headline, warmup, drain)


async def _run_target(run, result, procs, steps, headline, warmup, drain) -> dict:
    try:
        result["connect"] = await run.connect()
        if not run.ready:
            result["error"] = "no pair connected"
            return result
        rss_connected = sum(proc.rss() for proc in procs)
        result["server_rss_mb_connected"] = round(rss_connected / 2**20, 1)
        await run.run_step(*warmup, label="warm-up", drain=drain, record=False)
        result["steps"] = []
        saturated_at = None
        for rate, duration in steps:
            label = "headline" if rate == headline else ""
            if saturated_at is not None and rate > saturated_at and rate != headline:
                result["steps"].append(
                    {"rate": rate, "label": label, "skipped": f"saturated at {saturated_at:g}/s"}
                )
                continue
            step = await run.run_step(rate, duration, label=label, drain=drain)
            result["steps"].append(step)
            if _saturated(step):
                step["saturated"] = True
                saturated_at = rate if saturated_at is None else min(saturated_at, rate)
                step["recovery_s"] = await _wait_quiet(procs)
        result["late_deliveries"] = run.late
    finally:
        run.close()
    return result
