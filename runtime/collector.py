"""Python's cyclic garbage collector in a server process that holds thousands of connections.

A full collection walks every object the collector tracks, with the process stopped. With 4,000 WebSocket
connections open that took 0.3–0.6 s, and under load one came every 20 s or so: every message in flight
waited. Most objects that survive a while live as long as their connection, so a server process moves them
out of the collector's way every `GC_FREEZE_SECONDS` (`gc.freeze()`): automatic collections then scan only
what is recent. Every `GC_FULL_SECONDS` they are handed back for one full collection, which frees the cycles
that closed connections left behind; between two, such a cycle waits in memory (a few kilobytes per closed
connection).
"""

import gc
import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

# One step at a time in a process: a step that froze while another unfroze would leave either undone.
STEP_LOCK = threading.RLock()


class Collector:
    """Freezes the survivors of the young generations; every `full_seconds`, collects everything once."""

    def __init__(self, *, full_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.full_seconds = full_seconds
        self.clock = clock
        self.last_full = clock()

    def step(self) -> None:
        with STEP_LOCK:
            self._step()

    def _step(self) -> None:
        now = self.clock()
        if now - self.last_full >= self.full_seconds:
            self.last_full = now
            started = time.perf_counter()
            gc.unfreeze()
            freed = gc.collect()
            logger.info(
                "full garbage collection: %d unreachable objects in %.0f ms",
                freed,
                (time.perf_counter() - started) * 1000,
            )
        else:
            # Young garbage goes before the rest is frozen: a cycle frozen while unreachable waits for the
            # next full collection.
            gc.collect(1)
        gc.freeze()


_started: threading.Thread | None = None
_stopping = threading.Event()
_lock = threading.Lock()


def start(*, freeze_seconds: float, full_seconds: float) -> threading.Thread | None:
    """Run a Collector on a daemon thread of this process (once per process); 0 seconds turns it off."""
    global _started
    if freeze_seconds <= 0:
        return None
    with _lock:
        if _started is None or not _started.is_alive():
            collector = Collector(full_seconds=full_seconds)
            _stopping.clear()

            def run() -> None:
                while not _stopping.wait(freeze_seconds):
                    collector.step()

            _started = threading.Thread(target=run, name="gc-freezer", daemon=True)
            _started.start()
    return _started


def stop() -> None:
    """End this process's Collector thread, if one runs (what it froze stays frozen)."""
    with _lock:
        if _started is not None:
            _stopping.set()
            _started.join()
