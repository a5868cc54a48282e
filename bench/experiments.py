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
- `concurrent_publish`: the frames of one transition are sent to their groups concurrently (each group's
  frames still in order) instead of one group_send after another.
"""

import asyncio
import gc
import os
import sys
from concurrent.futures import ThreadPoolExecutor

PATCHES = {item.strip() for item in os.environ.get("BENCH_PATCHES", "").split(",") if item.strip()}
KNOWN = {"switch5ms", "one_db_thread", "concurrent_publish", "no_positions", "gc"}
if PATCHES - KNOWN:
    raise ValueError(f"unknown BENCH_PATCHES: {sorted(PATCHES - KNOWN)}")

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcentre.settings")

from contactcentre.asgi import application  # noqa: E402

if "switch5ms" in PATCHES:
    sys.setswitchinterval(0.005)

if "one_db_thread" in PATCHES:
    from contactcentre import database

    database._threads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="database")

if "gc" in PATCHES:
    gc.set_threshold(50_000, 20, 100)

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
