"""Rate limits on the public chat edges: chats opened per client IP, messages per chat.

Fixed windows of the clock (a chat-open window is a clock minute, 09:00:00 to 09:00:59; a message window ten
seconds, 09:00:00 to 09:00:09), counted in Django's cache (Redis in production, so every server process
shares the count) with an atomic increment. A refused request is refused before the engine is called, so
nothing is stored; each verdict says how many hits its window has left and when the window ends, which the
API sends as `Retry-After` and the `RateLimit-*` headers. An open that the engine refuses (the queue is
full, closed or unknown) gives its hit back: a client retrying after `queue_full` does not use up its own
budget.

While the cache cannot be reached (Redis restarting) requests are let through: the conversation lives in
the database, and a customer must not be turned away because a counter is unavailable for a moment.
"""

import functools
import logging
import math
import time
from dataclasses import dataclass, replace

import redis
from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

MESSAGE_WINDOW_SECONDS = 10
OPEN_WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Verdict:
    """One hit counted: whether it is within the limit, and what is left of its window."""

    allowed: bool
    limit: int
    remaining: int
    # Whole seconds until the window ends and its count starts again (at least 1).
    reset_seconds: int
    key: str = ""

    def headers(self) -> dict[str, str]:
        """The IETF draft's RateLimit-* headers for this verdict, and Retry-After when it refuses."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers


def allow_chat_open(*, client_ip: str) -> Verdict:
    return _hit(f"open:{client_ip}", limit=settings.WEBCHAT_RATE_PER_IP, window=OPEN_WINDOW_SECONDS)


def allow_message(*, chat_id) -> Verdict:
    return _hit(f"message:{chat_id}", limit=settings.WEBCHAT_RATE_PER_CHAT, window=MESSAGE_WINDOW_SECONDS)


def give_back(verdict: Verdict) -> Verdict:
    """Uncount an allowed hit whose request was refused after all (by the engine), in the window that
    counted it; returns the verdict as it then stands."""
    if not verdict.allowed or not verdict.key:
        return verdict
    try:
        counters = _redis()
        if counters is not None:
            pipe = counters.pipeline(transaction=False)
            pipe.decr(verdict.key)
            # Should the window's key have expired meanwhile, the one DECR made is not kept for ever.
            pipe.expire(verdict.key, verdict.reset_seconds + 1, nx=True)
            pipe.execute()
        else:
            cache.decr(verdict.key)
    except (RedisError, OSError, ValueError):
        logger.warning(
            "rate limit hit not given back: the cache is unreachable", extra={"limit": verdict.key}
        )
        return verdict
    return replace(verdict, remaining=min(verdict.limit, verdict.remaining + 1))


def _hit(name: str, *, limit: int, window: int) -> Verdict:
    """Count one hit in the current window; refused once the window holds more than `limit`."""
    now = time.time()
    index = int(now // window)
    reset_seconds = max(1, math.ceil((index + 1) * window - now))
    key = f"webchat-rate:{name}:{index}"
    try:
        count = _count(key, window)
    except (RedisError, OSError):
        logger.warning("rate limit %s not counted: the cache is unreachable", name, extra={"limit": name})
        return Verdict(True, limit, limit, reset_seconds)
    return Verdict(count <= limit, limit, max(0, limit - count), reset_seconds, key)


def _count(key: str, window: int) -> int:
    counters = _redis()
    if counters is not None:
        # One round trip per hit: the counter and its expiry in one pipeline (the cache API takes three).
        pipe = counters.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, window + 1, nx=True)
        return pipe.execute()[0]
    cache.add(key, 0, timeout=window + 1)
    try:
        return cache.incr(key)
    except ValueError:
        # The key expired between add and incr: this hit opens a fresh window.
        cache.set(key, 1, timeout=window + 1)
        return 1


@functools.cache
def _redis() -> redis.Redis | None:
    """The cache's Redis, when the cache is Redis (production); None for the embedded in-memory cache."""
    default = settings.CACHES["default"]
    if not default["BACKEND"].endswith(".RedisCache"):
        return None
    return redis.Redis.from_url(default["LOCATION"], socket_timeout=2, socket_connect_timeout=2)
