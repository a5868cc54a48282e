"""What one WebSocket may send before the server stops listening: typing indicators and refused frames.

Both sockets (the customer's and the agent's) keep one `TypingGate` and one `RefusalBudget` each, in
memory: a flood costs the server a counter per frame and reaches neither the database nor the other side.
An occasional bad frame is still answered with an error frame and the socket stays open (PROTOCOL.md); a
socket that keeps sending them is closed with CLOSE_TOO_MANY_REFUSALS.
"""

import time
from collections.abc import Callable, Hashable

from django.conf import settings

# Typing frames passed on per socket, all its chats together, in one second.
TYPING_PER_SECOND = 4
# Refused frames per socket in REFUSAL_WINDOW_SECONDS: up to REFUSALS_ANSWERED are answered with an error
# frame, the rest only counted; past REFUSALS_TOLERATED the socket is closed.
REFUSAL_WINDOW_SECONDS = 10
REFUSALS_ANSWERED = 10
REFUSALS_TOLERATED = 30
CLOSE_TOO_MANY_REFUSALS = 4400
# The typing state kept per socket for at most this many chats (an agent socket names chats by id).
TYPING_CHATS_KEPT = 64

Clock = Callable[[], float]


class _Window:
    """Events counted in fixed windows of `seconds`."""

    def __init__(self, seconds: float, clock: Clock) -> None:
        self.seconds = seconds
        self.clock = clock
        self.started = -float("inf")
        self.count = 0

    def hit(self) -> int:
        """Count one event; returns how many the current window now holds."""
        now = self.clock()
        if now - self.started >= self.seconds:
            self.started, self.count = now, 0
        self.count += 1
        return self.count


class TypingGate:
    """Which typing frames are passed on: changes of state, and a repeated start once per
    WEBCHAT_TYPING_THROTTLE_SECONDS (which keeps the other side's indicator on while typing goes on); at
    most TYPING_PER_SECOND a second in all. A repeated stop never passes."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.rate = _Window(1.0, clock)
        self.last: dict[Hashable, tuple[bool, float]] = {}

    def passes(self, typing: bool, chat: Hashable = None) -> bool:
        now = self.clock()
        last = self.last.get(chat)
        repeated = last is not None and last[0] == typing
        if repeated and (not typing or now - last[1] < settings.WEBCHAT_TYPING_THROTTLE_SECONDS):
            return False
        if self.rate.hit() > TYPING_PER_SECOND:
            return False
        if chat not in self.last and len(self.last) >= TYPING_CHATS_KEPT:
            del self.last[next(iter(self.last))]
        self.last[chat] = (typing, now)
        return True


class RefusalBudget:
    """How a socket answers its refused frames: `answer`, `quiet` (counted, not answered) or `close`."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.window = _Window(REFUSAL_WINDOW_SECONDS, clock)

    def refused(self) -> str:
        count = self.window.hit()
        if count > REFUSALS_TOLERATED:
            return "close"
        return "answer" if count <= REFUSALS_ANSWERED else "quiet"
