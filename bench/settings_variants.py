"""The project's settings with experimental changes, for the bench's comparison runs only.

The deployment under test uses `contactcentre.settings` unchanged. A comparison run sets
DJANGO_SETTINGS_MODULE=bench.settings_variants and BENCH_VARIANTS to a comma-separated list of:

- `lists`: channels_redis's list-based RedisChannelLayer (four Redis round trips per group_send: expire,
  read members, expire, Lua script; a blocking pop per delivery), the product's layer until 2026-12-02,
  instead of the pub/sub layer.
- `fullcheck`: psycopg_pool's own check of a pooled connection (an empty query, a round trip) as each is
  handed out, instead of the project's backend's look at its socket.
- `nofreeze`: Python's cyclic garbage collector as it comes (GC_FREEZE_SECONDS 0): full collections walk
  every connection's objects, instead of only what is recent.
"""

import os

from contactcentre.settings import *  # noqa: F403
from contactcentre.settings import CHANNEL_LAYERS, DATABASES, REDIS_URL

VARIANTS = {item.strip() for item in os.environ.get("BENCH_VARIANTS", "").split(",") if item.strip()}
KNOWN = {"lists", "fullcheck", "nofreeze"}
if VARIANTS - KNOWN:
    raise ValueError(f"unknown BENCH_VARIANTS: {sorted(VARIANTS - KNOWN)}")

if "lists" in VARIANTS and REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                **CHANNEL_LAYERS["default"]["CONFIG"],
                "capacity": 5000,
                "expiry": 30,
            },
        }
    }

if "fullcheck" in VARIANTS:
    DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

if "nofreeze" in VARIANTS:
    GC_FREEZE_SECONDS = 0
