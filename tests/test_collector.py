"""The server process's garbage collection: survivors frozen out of the scans, everything collected now and
then."""

import gc
import weakref

import pytest

from runtime import collector


class Node:
    """A cycle: only the cyclic collector can free it."""

    def __init__(self) -> None:
        self.me = self


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def steps():
    """Steps of a Collector on a controlled clock, with no other step in the process meanwhile."""
    clock = Clock()
    with collector.STEP_LOCK:
        yield collector.Collector(full_seconds=900, clock=clock), clock
        gc.unfreeze()


def test_a_step_frees_recent_garbage_instead_of_freezing_it(steps):
    each, _ = steps
    node = Node()
    gone = weakref.ref(node)
    del node

    each.step()

    assert gone() is None


def test_a_survivor_is_frozen_out_of_collections_until_the_full_collection_frees_it(steps):
    each, clock = steps
    node = Node()
    gone = weakref.ref(node)
    frozen_before = gc.get_freeze_count()

    each.step()
    assert gc.get_freeze_count() > frozen_before
    del node
    gc.collect()
    assert gone() is not None  # frozen: not even a full collection looks at it

    clock.now += 899
    each.step()
    assert gone() is not None

    clock.now += 1
    each.step()
    assert gone() is None


def test_the_collector_runs_in_server_processes_and_can_be_stopped_and_turned_off(settings):
    import contactcentre.asgi  # noqa: F401 - starts it, as every server process does

    assert settings.GC_FREEZE_SECONDS > 0
    running = collector.start(
        freeze_seconds=settings.GC_FREEZE_SECONDS, full_seconds=settings.GC_FULL_SECONDS
    )
    assert running is not None and running.is_alive()

    collector.stop()
    assert not running.is_alive()
    assert collector.start(freeze_seconds=0, full_seconds=900) is None

    again = collector.start(freeze_seconds=settings.GC_FREEZE_SECONDS, full_seconds=settings.GC_FULL_SECONDS)
    assert again is not running and again.is_alive()
