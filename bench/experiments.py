"""The product's ASGI application with experimental patches, for comparison runs of the bench only.

Nothing here is used by the deployment under test; each patch measures a change, or undoes one the product
made, in the same run. BENCH_PATCHES (comma-separated):

- `switch5ms`: Python's default GIL switch interval (5 ms) instead of the product's 1 ms.
- `one_db_thread`: the sockets' database calls on one thread per process (as Channels' default
  `database_sync_to_async` runs them) instead of the product's pool of database threads.
- `no_positions`: no queue-position `state` frames after an allocation (POSITION_UPDATES_LIMIT 0), to
  measure what the hundred frames per allocation cost.
- `gc`: the cyclic garbage collector made rarer (thresholds 50,000 / 20 / 100 instead of 700 / 10 / 10),
  on top of the start-up objects the product already freezes.
- `watch`: changes nothing; logs to the server's log every garbage collection over 20 ms (with its
  generation and the objects it examined), every time the event loop woke more than 50 ms late, and, while
  it is late, every thread's stack (`faulthandler`), to find what stalls the process.
- `concurrent_publish`: the frames of one transition are sent to their groups concurrently (each group's
  frames still in order) instead of one group_send after another.
"""

import asyncio
import gc
import os
import sys
from concurrent.futures import ThreadPoolExecutor

PATCHES = {item.strip() for item in os.environ.get("BENCH_PATCHES", "").split(",") if item.strip()}
KNOWN = {"switch5ms", "one_db_thread", "concurrent_publish", "no_positions", "gc", "watch"}
if PATCHES - KNOWN:
    raise ValueError(f"unknown BENCH_PATCHES: {sorted(PATCHES - KNOWN)}")

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcentre.settings")

from contactcentre.asgi import application  # noqa: E402

if "switch5ms" in PATCHES:
    sys.setswitchinterval(0.005)

if "one_db_thread" in PATCHES:
    from runtime import database

    database._threads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="database")

if "gc" in PATCHES:
    gc.set_threshold(50_000, 20, 100)

if "watch" in PATCHES:
    import time

    _gc_started: list[float] = []

    def _gc_watch(phase: str, info: dict) -> None:
        if phase == "start":
            _gc_started[:] = [time.perf_counter()]
        elif _gc_started:
            took = time.perf_counter() - _gc_started[0]
            if took > 0.02:
                print(
                    f"watch {time.time():.3f} gc gen{info['generation']} {took * 1000:.0f} ms "
                    f"collected {info['collected']} objects {sum(gc.get_count())}",
                    file=sys.stderr,
                    flush=True,
                )

    gc.callbacks.append(_gc_watch)

    import faulthandler

    from bench.loadgen import LoopLag

    LATE_S = 0.05

    def _loop_woke(late: float) -> None:
        if late > LATE_S:
            print(f"watch {time.time():.3f} loop {late * 1000:.0f} ms late", file=sys.stderr, flush=True)
        # If the loop does not wake again in time, Python's own watchdog (a thread of its own, which needs
        # no GIL) prints where every thread is.
        faulthandler.dump_traceback_later(LATE_S + _WATCH_INTERVAL_S, file=sys.stderr)

    _WATCH_INTERVAL_S = 0.01
    _watched_loops: dict = {}  # loop -> its LoopLag, held so that its task lives as long as the loop
    _inner_application = application

    async def application(scope, receive, send):
        loop = asyncio.get_running_loop()
        if loop not in _watched_loops:
            _watched_loops[loop] = LoopLag(_WATCH_INTERVAL_S, on_wake=_loop_woke).start()
        return await _inner_application(scope, receive, send)


if "no_positions" in PATCHES:
    from routing import events as _positions_events

    _positions_events.POSITION_UPDATES_LIMIT = 0

if "concurrent_publish" in PATCHES:
    from channels.layers import get_channel_layer

    from routing import events as _events

    async def _send_all_concurrently(frames) -> None:
        layer = get_channel_layer()
        by_group: dict[str, list[dict]] = {}
        for group, frame in frames:
            by_group.setdefault(group, []).append(frame)

        async def one_group(group: str, group_frames: list[dict]) -> None:
            for frame in group_frames:
                await layer.group_send(group, {"type": "relay", "frame": frame})

        await asyncio.gather(*(one_group(group, group_frames) for group, group_frames in by_group.items()))

    _events._send_all = _send_all_concurrently

__all__ = ["application"]
