"""Events: what changed, told to the Channels groups concerned once the transaction has committed.

Consumers only relay these frames. Agents' pages receive small frames that name what to re-fetch; the
customer's socket receives the frames of PROTOCOL.md section 2. The channel layer is at-most-once: a client
that misses a frame catches up from the database (sequence numbers, re-fetched partials).
"""

import logging
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def agent_group(membership_id: int) -> str:
    return f"agent_{membership_id}"


def queue_group(queue_id: int) -> str:
    return f"queue_{queue_id}"


def chat_group(chat_id) -> str:
    return f"chat_{chat_id}"


def wallboard_group(company_id: int) -> str:
    return f"wallboard_{company_id}"


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
        key = (group, repr(sorted(frame.items())))
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
            transaction.on_commit(lambda: send_now(frames + queue_positions(queue_ids)))


POSITION_UPDATES_LIMIT = 100


def queue_positions(queue_ids: list[int]) -> list[tuple[str, dict]]:
    """`state` frames with the places of the first customers in each queue; the rest learn theirs on
    reconnect, so a queue of thousands costs one bounded query per change."""
    from routing.selectors import waiting_chats

    frames = []
    for queue_id in queue_ids:
        chat_ids = waiting_chats(queue_id).values_list("pk", flat=True)[:POSITION_UPDATES_LIMIT]
        for position, chat_id in enumerate(chat_ids, 1):
            frames.append((chat_group(chat_id), {"type": "state", "state": "queued", "position": position}))
    return frames


def send_now(frames: Iterable[tuple[str, dict]]) -> None:
    """Send frames to their groups. Delivery failures are logged: the database stays the truth."""
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
        await layer.group_send(group, {"type": "relay", "frame": frame})
