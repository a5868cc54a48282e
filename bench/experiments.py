"""The product's ASGI application with experimental patches, for comparison runs of the bench only.

Nothing here is used by the deployment under test; each patch stands for a change recommended to the
product's own code, so that its effect is measured before anybody makes it. BENCH_PATCHES (comma-separated):

- `switch`: sys.setswitchinterval(0.001). The consumers' database calls run in a worker thread beside the
  event loop; a thread that waits on a socket (PostgreSQL, Redis) must win the GIL back, by default after
  up to 5 ms of the other thread's Python.
- `parallel_db`: the consumers' `database_sync_to_async` calls run on a thread pool (thread_sensitive=False)
  instead of the one thread that Channels shares between every consumer of the process.
- `loop_publish`: the engine's after-commit frames are handed to one task on the event loop instead of the
  database thread waiting (async_to_sync) for every group_send to finish.
- `no_positions`: no queue-position `state` frames after an allocation (POSITION_UPDATES_LIMIT 0), to
  measure what the hundred frames per allocation cost.
- `gc`: the cyclic garbage collector made rarer (thresholds 50,000 / 20 / 100 instead of 700 / 10 / 10)
  and the objects alive after start-up frozen out of its scans: with thousands of connections every full
  collection walks every consumer's objects, so the collector's cost per message grows with connections.
- `concurrent_publish`: the frames of one transition are sent to their groups concurrently (each group's
  frames still in order) instead of one group_send after another.
"""

import asyncio
import os
import sys
import threading

PATCHES = {item.strip() for item in os.environ.get("BENCH_PATCHES", "").split(",") if item.strip()}
KNOWN = {"switch", "parallel_db", "loop_publish", "concurrent_publish", "no_positions", "gc"}
if PATCHES - KNOWN:
    raise ValueError(f"unknown BENCH_PATCHES: {sorted(PATCHES - KNOWN)}")

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcentre.settings")

if "switch" in PATCHES:
    sys.setswitchinterval(0.001)

if "gc" in PATCHES:
    import gc

    gc.set_threshold(50_000, 20, 100)

if "parallel_db" in PATCHES:
    import channels.db

    class ParallelDatabaseSyncToAsync(channels.db.DatabaseSyncToAsync):
        def __init__(self, func, thread_sensitive=False, executor=None):
            super().__init__(func, thread_sensitive=False, executor=executor)

    channels.db.database_sync_to_async = ParallelDatabaseSyncToAsync

from contactcentre.asgi import application as product_application  # noqa: E402

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

if "gc" in PATCHES:
    gc.collect()
    gc.freeze()

if "loop_publish" in PATCHES:
    from routing import events

    _original_send_now = events.send_now
    _state: dict = {}

    async def _publisher(queue: asyncio.Queue) -> None:
        while True:
            frames = await queue.get()
            try:
                await events._send_all(frames)
            except Exception:
                events.logger.exception("could not publish %d event(s)", len(frames))

    def send_now(frames) -> None:
        frames = list(frames)
        loop = _state.get("loop")
        if not frames:
            return
        if loop is None or threading.current_thread() is threading.main_thread():
            _original_send_now(frames)
            return
        loop.call_soon_threadsafe(_state["queue"].put_nowait, frames)

    events.send_now = send_now

    async def application(scope, receive, send):
        if "loop" not in _state:
            _state["loop"] = asyncio.get_running_loop()
            _state["queue"] = asyncio.Queue()
            _state["task"] = asyncio.create_task(_publisher(_state["queue"]))
        return await product_application(scope, receive, send)
else:
    application = product_application
