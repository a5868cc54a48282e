"""The project's settings with experimental changes, for the bench's comparison runs only.

The deployment under test uses `contactcentre.settings` unchanged. A comparison run sets
DJANGO_SETTINGS_MODULE=bench.settings_variants and BENCH_VARIANTS to a comma-separated list of:

- `pubsub`: channels_redis's RedisPubSubChannelLayer (one PUBLISH per group_send) instead of the
  list-based RedisChannelLayer (four Redis round trips per group_send: expire, read members, expire, Lua
  script; a blocking pop per delivery). Not the product's choice: after a Redis restart it drops the frames
  published meanwhile without its sockets noticing, so clients do not know to resume.
- `nohealth`: CONN_HEALTH_CHECKS off: connections are handed out by the pool without a liveness check.
"""

import os

import redis.exceptions

from contactcentre.settings import *  # noqa: F403
from contactcentre.settings import CHANNEL_LAYERS, DATABASES, REDIS_URL

VARIANTS = {item.strip() for item in os.environ.get("BENCH_VARIANTS", "").split(",") if item.strip()}
KNOWN = {"pubsub", "nohealth"}
if VARIANTS - KNOWN:
    raise ValueError(f"unknown BENCH_VARIANTS: {sorted(VARIANTS - KNOWN)}")

if "pubsub" in VARIANTS and REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": 15,
                        "retry_on_error": [redis.exceptions.ConnectionError],
                    }
                ],
                "prefix": CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
            },
        }
    }

if "nohealth" in VARIANTS:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
