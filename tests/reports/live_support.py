"""Known traffic for the live figures: chats and calls written as the engine leaves them, at chosen
moments, for read-side tests of the wallboard and the service-level alert."""

import datetime as dt
from itertools import count

from routing.models import Call, CallState
from tests import factories
from webchat.models import ChatState

_pbx_ids = count(1)


def chat(queue, arrived, *, answered=None, ended=None, outcome="", handle=0.0, state=None):
    """A chat of `queue` that arrived at `arrived`, first answered at `answered`, ended at `ended` with
    `outcome` (closed then), `handle` seconds active."""
    if state is None:
        state = ChatState.CLOSED if outcome else (ChatState.ACTIVE if answered else ChatState.QUEUED)
    return factories.ChatFactory(
        queue=queue,
        created_at=arrived,
        queued_at=arrived,
        answered_at=answered,
        allocated_at=answered,
        ended_at=ended,
        closed_at=ended if outcome else None,
        outcome=outcome,
        state=state,
        handle_seconds=handle,
    )


def call(queue, arrived, *, answered=None, ended=None, outcome=""):
    """A call of the voice `queue`: waiting, connected (answered) or closed (ended with `outcome`)."""
    state = CallState.CLOSED if outcome else (CallState.CONNECTED if answered else CallState.WAITING)
    return Call.objects.create(
        company=queue.company,
        queue=queue,
        pbx_call_id=f"live-{next(_pbx_ids)}",
        state=state,
        outcome=outcome,
        arrived_at=arrived,
        answered_at=answered,
        ended_at=ended,
        closed_at=ended if outcome else None,
    )


def breaching_traffic(queue, now: dt.datetime) -> None:
    """A webchat queue's window (default settings: 60 s target, 5 s short abandon, 70 % warning) at 1 of
    3 within target: one answered in 10 s, two answered in 3 min. Service level 33 %."""
    minute = dt.timedelta(minutes=1)
    chat(queue, now - 5 * minute, answered=now - 5 * minute + dt.timedelta(seconds=10))
    for _ in range(2):
        chat(queue, now - 6 * minute, answered=now - 3 * minute)
