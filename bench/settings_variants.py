"""The project's settings with experimental changes, for the bench's comparison runs only.

The deployment under test normally uses `contactcentre.settings` unchanged. A comparison run sets
DJANGO_SETTINGS_MODULE=bench.settings_variants and BENCH_VARIANTS to a comma-separated list of:

- `pubsub`: channels_redis's RedisPubSubChannelLayer (one PUBLISH per group_send) instead of the
  RedisChannelLayer (four Redis round trips per group_send: expire, read members, expire, Lua script).
- `nohealth`: CONN_HEALTH_CHECKS off. With it on, every `database_sync_to_async` call of a consumer
  (which closes obsolete connections first) makes the next query run a `SELECT 1` health check.
- `maxage0`: CONN_MAX_AGE 0: a database connection per request or consumer call, closed after it.
- `redistimeout`: socket_timeout None on the channel layer's Redis connections. redis-py 8 reads with a 5 s
  socket timeout by default, as long as channels_redis's own 5 s BZPOPMIN: the read times out first and the
  consumer that was receiving dies (close code 1011). (settings.py now sets 15 s itself.)
- `pool`: psycopg's connection pool (Django 5.1+ `OPTIONS["pool"]`, CONN_MAX_AGE 0), where psycopg_pool
  is installed.
"""

import os

from contactcentre.settings import *  # noqa: F403
from contactcentre.settings import CHANNEL_LAYERS, DATABASES, REDIS_URL

VARIANTS = {item.strip() for item in os.environ.get("BENCH_VARIANTS", "").split(",") if item.strip()}
KNOWN = {"pubsub", "nohealth", "maxage0", "pool", "redistimeout"}
if VARIANTS - KNOWN:
    raise ValueError(f"unknown BENCH_VARIANTS: {sorted(VARIANTS - KNOWN)}")

if "pubsub" in VARIANTS and REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "asgi"),
            },
        }
    }

if "redistimeout" in VARIANTS and REDIS_URL:
    for host in CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]:
        if isinstance(host, dict):
            host["socket_timeout"] = None
        else:
            CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [{"address": host, "socket_timeout": None}]

if "nohealth" in VARIANTS:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False

if "maxage0" in VARIANTS:
    DATABASES["default"]["CONN_MAX_AGE"] = 0

if "pool" in VARIANTS:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 2, "max_size": 20, "timeout": 10}
