"""Configuration changes that reach live work: disabling a queue hands its waiting chats on."""

import logging
from dataclasses import dataclass

from django.db import transaction

from routing.engine.allocation import allocate_queues
from routing.engine.clocks import _close, _now
from routing.engine.frames import _tell_customer, _tell_queue
from routing.engine.locks import _chats_to_lock, _lock_queues
from routing.engine.messages import _system_message
from routing.engine.rules import MOVED_TO_FALLBACK, QUEUE_CLOSED, TransitionError, target_state
from routing.events import Outbox
from routing.models import WebchatQueue
from webchat.models import Chat, ChatState, Outcome

logger = logging.getLogger(__package__)

S = ChatState


@dataclass(frozen=True)
class DisabledQueue:
    queue: WebchatQueue
    moved: list[Chat]  # now waiting in the fallback queue
    ended: list[Chat]  # closed, the customer told why


def queue_disable(*, queue_id: int) -> DisabledQueue:
    """Disable a webchat queue: it takes no new chats, and its waiting chats are handed on.

    Locks the queue and its fallback queue (by primary key, as chat_open locks a queue, so no chat opens in
    either meanwhile), then the queue's waiting chats (by primary key; a chat being taken or allocated at
    this moment is waited for, and passed over if it is no longer waiting). Each waiting chat moves to the
    fallback queue if the queue has an enabled one, keeping its time in the queue (its place among the
    fallback queue's chats follows from it), or else is closed with outcome queue_closed; either way the
    customer is told in a system message. Chats held by agents stay with them. Disabling a disabled queue
    hands on whatever still waits in it. The fallback queue allocates after the transaction.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        queue = WebchatQueue.objects.filter(pk=queue_id).values_list("pk", "fallback_queue_id").first()
        if queue is None:
            raise TransitionError("unknown_queue", "No such queue.", status=404)
        locked = _lock_queues([pk for pk in queue if pk is not None])
        queue = locked[queue_id]
        fallback = locked.get(queue.fallback_queue_id)
        if fallback is None and queue.fallback_queue_id is not None:
            # The fallback changed between the read and the lock: follow the one now stored.
            fallback = _lock_queues([queue.fallback_queue_id]).get(queue.fallback_queue_id)
        if fallback is not None and (not fallback.enabled or fallback.company_id != queue.company_id):
            fallback = None
        if queue.enabled:
            queue.enabled = False
            queue.save(update_fields=["enabled"])
        waiting = list(_chats_to_lock().filter(queue=queue, state=S.QUEUED))
        moved, ended = [], []
        for chat in waiting:
            if fallback is not None:
                chat.state = target_state("to_fallback", chat.state)
                chat.queue = fallback
                chat.save(update_fields=["state", "queue"])
                _system_message(out, chat, MOVED_TO_FALLBACK, now)
                moved.append(chat)
            else:
                target_state("queue_closed", chat.state)
                _system_message(out, chat, QUEUE_CLOSED, now)
                _close(chat, now, Outcome.QUEUE_CLOSED)
                chat.save()
                ended.append(chat)
            _tell_customer(out, chat)
        _tell_queue(out, queue)
        if moved:
            _tell_queue(out, fallback)
            out.add_positions(fallback.pk)
        out.send_on_commit()
    logger.info(
        "queue %s disabled: %d waiting chat(s) moved to queue %s, %d ended",
        queue.pk,
        len(moved),
        fallback.pk if fallback else None,
        len(ended),
        extra={
            "queue_id": queue.pk,
            "company_id": queue.company_id,
            "moved": [str(chat.pk) for chat in moved],
            "ended": [str(chat.pk) for chat in ended],
        },
    )
    if moved and fallback.auto_allocate:
        allocate_queues(queue_ids=[fallback.pk])
    return DisabledQueue(queue=queue, moved=moved, ended=ended)
