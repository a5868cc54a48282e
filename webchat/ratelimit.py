"""Rate limits on the public chat edges: chats opened per client IP, messages per chat.

Fixed windows counted in Django's cache (Redis in production, so every server process shares the count)
with an atomic increment. A refused request is refused before the engine is called, so nothing is stored.
While the cache cannot be reached (Redis restarting) requests are let through: the conversation lives in
the database, and a customer must not be turned away because a counter is unavailable for a moment.
"""

import functools
import logging
import time

import redis
from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

MESSAGE_WINDOW_SECONDS = 10
OPEN_WINDOW_SECONDS = 60


def allow_chat_open(*, client_ip: str) -> bool:
    return _hit(f"open:{client_ip}", limit=settings.WEBCHAT_RATE_PER_IP, window=OPEN_WINDOW_SECONDS)


def allow_message(*, chat_id) -> bool:
    return _hit(f"message:{chat_id}", limit=settings.WEBCHAT_RATE_PER_CHAT, window=MESSAGE_WINDOW_SECONDS)


def _hit(name: str, *, limit: int, window: int) -> bool:
    """Count one hit in the current window; False once the window holds more than `limit`."""
    key = f"webchat-rate:{name}:{int(time.time() // window)}"
    try:
        count = _count(key, window)
    except (RedisError, OSError):
        logger.warning("rate limit %s not counted: the cache is unreachable", name, extra={"limit": name})
        return True
    return count <= limit


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
