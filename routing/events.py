"""Events: what changed, told to the Channels groups concerned once the transaction has committed.

Consumers only relay these frames, which webchat.protocol builds. Agents' pages receive small frames that
name what to re-fetch; the customer's socket receives the frames of docs/chat-api.md. The channel layer is
at-most-once: a client that misses a frame catches up from the database (sequence numbers, re-fetched
partials).
"""

import asyncio
import contextvars
import logging
import os
import weakref
from collections import deque
from collections.abc import Callable, Iterable

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from runtime.database import in_database
from webchat import protocol

logger = logging.getLogger(__name__)


def agent_group(membership_id: int) -> str:
    return f"agent_{membership_id}"


def queue_group(queue_id: int) -> str:
    return f"queue_{queue_id}"


def chat_group(chat_id) -> str:
    return f"chat_{chat_id}"


def wallboard_group(company_id: int) -> str:
    return f"wallboard_{company_id}"


def _frame_key(group: str, frame: dict) -> tuple[str, str]:
    """What makes two frames to a group the same news: the group and every field of the frame."""
    return group, repr(sorted(frame.items()))


class Outbox:
    """Frames gathered during one engine transition and sent together after commit."""

    def __init__(self) -> None:
        self._frames: list[tuple[str, dict]] = []
        self._keys: set[tuple[str, str]] = set()
        self._position_queues: set[int] = set()

    def add(self, group: str, frame: dict) -> None:
        self._frames.append((group, frame))

    def add_once(self, group: str, frame: dict) -> None:
        """Add a frame that only names something to re-fetch: once per group and type is enough."""
        key = _frame_key(group, frame)
        if key not in self._keys:
            self._keys.add(key)
            self._frames.append((group, frame))

    def add_positions(self, queue_id: int) -> None:
        """After commit, tell the customers waiting in the queue their new places."""
        self._position_queues.add(queue_id)

    def send_on_commit(self) -> None:
        if self._frames or self._position_queues:
            frames = list(self._frames)
            queue_ids = sorted(self._position_queues)
            transaction.on_commit(lambda: publish(frames, position_queues=queue_ids))


POSITION_UPDATES_LIMIT = 100


def queue_positions(queue_ids: Iterable[int]) -> list[tuple[str, dict]]:
    """`state` frames with the places of the first customers in each queue; the rest learn theirs on
    reconnect, so a queue of thousands costs one bounded query per change."""
    from routing.selectors import waiting_chats

    frames = []
    for queue_id in queue_ids:
        chat_ids = waiting_chats(queue_id).values_list("pk", flat=True)[:POSITION_UPDATES_LIMIT]
        for position, chat_id in enumerate(chat_ids, 1):
            frames.append((chat_group(chat_id), protocol.queued(position)))
    return frames


def publish(frames: Iterable[tuple[str, dict]], *, position_queues: Iterable[int] = ()) -> None:
    """Send frames to their groups, then the new places in the given queues.

    Called from a thread that serves an event loop (a consumer's or a view's database thread), the frames
    are handed to that loop's publisher and the thread goes back to work at once: waiting for every
    group_send would hold the database thread that all of the process's sockets share. Anywhere else (a
    Celery worker, a command) they are sent before returning.
    """
    frames = list(frames)
    position_queues = set(position_queues)
    if not frames and not position_queues:
        return
    loop = _serving_loop()
    if loop is not None:
        try:
            # A context of its own: the publisher must not inherit this thread's asgiref executor state.
            loop.call_soon_threadsafe(_hand_over, frames, position_queues, context=contextvars.Context())
            return
        except RuntimeError:
            pass  # The loop closed meanwhile (the server is stopping): send from here instead.
    send_now(frames + queue_positions(sorted(position_queues)))


def send_now(frames: Iterable[tuple[str, dict]]) -> None:
    """Send frames to their groups before returning. Delivery failures are logged: the database stays the
    truth."""
    frames = list(frames)
    if not frames:
        return
    try:
        async_to_sync(_send_all)(frames)
    except Exception:
        logger.exception("could not publish %d event(s) to the channel layer", len(frames))


async def _send_all(frames: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    for group, frame in frames:
        await layer.group_send(group, protocol.relay(frame))


def _serving_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop that called this thread through sync_to_async, if any."""
    threadlocal = SyncToAsync.threadlocal
    if getattr(threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    loop = getattr(threadlocal, "main_event_loop", None)
    if loop is None or loop.is_closed() or not loop.is_running():
        return None
    return loop


_publishers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Publisher]" = weakref.WeakKeyDictionary()


def _hand_over(frames: list[tuple[str, dict]], position_queues: set[int]) -> None:
    loop = asyncio.get_running_loop()
    publisher = _publishers.get(loop)
    if publisher is None:
        publisher = _publishers[loop] = Publisher()
    publisher.hand_over(frames, position_queues)


# Groups heard by every agent of a queue or every supervisor of a company, whose frames only name something to
# re-fetch: each page that hears one fetches again, so a burst of changes is told at most once per interval.
COALESCED_GROUPS = ("queue_", "wallboard_")
COALESCE_SECONDS = 0.5


class Publisher:
    """One task per event loop that sends the frames handed to it, in the order they were handed over.

    A queue's or a wallboard's frame goes out at once if none went to that group in the last
    COALESCE_SECONDS, else once at the end of that interval for all that came meanwhile. Queue places are
    told the same way: a queue's first customers hear their places at once after a change if they did not in
    the last COALESCE_SECONDS, else once at the end of that interval, read when they are sent; a burst of
    allocations from one queue costs one read of its first customers and one frame to each per interval,
    not one per allocation.
    """

    def __init__(self) -> None:
        self.pending: deque[list[tuple[str, dict]]] = deque()
        self.position_queues: set[int] = set()
        self.wake = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        self.last_sent: dict[object, float] = {}
        self.waiting: set[object] = set()
        self.task = self.loop.create_task(self._run(), context=contextvars.Context())

    def hand_over(self, frames: list[tuple[str, dict]], position_queues: set[int]) -> None:
        frames = [(group, frame) for group, frame in frames if not self._held_back(group, frame)]
        if frames:
            self.pending.append(frames)
        for queue_id in position_queues:
            places = ("places", queue_id)
            if not self._hold(places, places, lambda queue_id=queue_id: self.position_queues.add(queue_id)):
                self.position_queues.add(queue_id)
        self.wake.set()

    def _held_back(self, group: str, frame: dict) -> bool:
        if not group.startswith(COALESCED_GROUPS):
            return False
        return self._hold(group, _frame_key(group, frame), lambda: self.pending.append([(group, frame)]))

    def _hold(self, interval: object, key: object, release: Callable[[], None]) -> bool:
        """Whether news for `interval` (a group, a queue's places) must wait: it goes at once if none went in
        the last COALESCE_SECONDS; else it is held, once per `key`, until that interval ends, when `release`
        hands it over."""
        if key in self.waiting:
            return True
        now = self.loop.time()
        due = self.last_sent.get(interval, -COALESCE_SECONDS) + COALESCE_SECONDS
        if now >= due:
            self.last_sent[interval] = now
            return False
        self.waiting.add(key)
        self.loop.call_later(due - now, self._release, interval, key, release)
        return True

    def _release(self, interval: object, key: object, release: Callable[[], None]) -> None:
        self.waiting.discard(key)
        self.last_sent[interval] = self.loop.time()
        release()
        self.wake.set()

    async def _run(self) -> None:
        this_task = asyncio.current_task()
        while True:
            # Told to stop (its event loop is ending) while it was sending, it stops, even when a library on
            # the way caught that cancellation and carried on: waiting for news again would hold up the
            # loop's end for ever, every other task of the loop long finished.
            if this_task is not None and this_task.cancelling():
                raise asyncio.CancelledError
            await self.wake.wait()
            self.wake.clear()
            while self.pending:
                await self._send(self.pending.popleft())
            if self.position_queues:
                queue_ids = sorted(self.position_queues)
                self.position_queues.clear()
                try:
                    frames = await in_database(queue_positions)(queue_ids)
                except Exception:
                    logger.exception("could not read the places in queues %s", queue_ids)
                    continue
                await self._send(frames)

    @staticmethod
    async def _send(frames: list[tuple[str, dict]]) -> None:
        try:
            await _send_all(frames)
        except Exception:
            logger.exception("could not publish %d event(s) to the channel layer", len(frames))
