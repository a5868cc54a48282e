"""The project's settings with experimental changes, for the bench's comparison runs only.

The deployment under test uses `contactcentre.settings` unchanged. A comparison run sets
DJANGO_SETTINGS_MODULE=bench.settings_variants and BENCH_VARIANTS to a comma-separated list of:

- `listlayer`: channels_redis's list-based RedisChannelLayer, as the product used before the pub/sub
  layer (four Redis round trips per group_send: expire, read members, expire, Lua script; a blocking pop
  per delivery), with the sizes it had (capacity 5000, 2000 connections, 15 s read timeout).
- `nohealth`: CONN_HEALTH_CHECKS off: connections are handed out by the pool without a liveness check.
"""

import os

import redis.exceptions

from contactcentre.settings import *  # noqa: F403
from contactcentre.settings import CHANNEL_LAYERS, DATABASES, REDIS_URL

VARIANTS = {item.strip() for item in os.environ.get("BENCH_VARIANTS", "").split(",") if item.strip()}
KNOWN = {"listlayer", "nohealth"}
if VARIANTS - KNOWN:
    raise ValueError(f"unknown BENCH_VARIANTS: {sorted(VARIANTS - KNOWN)}")

if "listlayer" in VARIANTS and REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "max_connections": 2000,
                        "socket_timeout": 15,
                        "retry_on_error": [redis.exceptions.ConnectionError],
                    }
                ],
                "capacity": 5000,
                "expiry": 30,
                "prefix": CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
            },
        }
    }

if "nohealth" in VARIANTS:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
