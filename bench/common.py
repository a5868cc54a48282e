"""What every part of the harness shares: paths, the deployment's environment, histograms, small helpers."""

import json
import os
import resource
import secrets
import socket
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python")
RESULTS = ROOT / "bench" / "results"

# The machine's two cores: the servers (Daphne, uvicorn, the baselines, Celery) on one, the load generator
# and this orchestrator on the other. PostgreSQL and Redis are the machine's shared services: not pinned.
SERVER_CORE = 0
LOADGEN_CORE = 1

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/contactcentre_bench")
# The database the run drops and creates is the one it uses: the name in BENCH_DATABASE_URL.
DB_NAME = urllib.parse.urlsplit(DATABASE_URL).path.strip("/")
DB_ADMIN_URL = os.environ.get("BENCH_DB_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")


def deployment_env(secret_key: str, **extra: str) -> dict[str, str]:
    """The environment of the deployment under test (and of this process's Django, so tokens match)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "BENCH_VARIANTS", "CHANNEL_LAYER"))
    }
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "contactcentre.settings",
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "SECRET_KEY": secret_key,
            "DEBUG": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "LOG_LEVEL": "WARNING",
            # The harness is one client address opening thousands of chats and sending hundreds of messages
            # a second: the per-IP and per-chat limits would refuse most of them.
            "WEBCHAT_RATE_PER_IP": "100000000",
            "WEBCHAT_RATE_PER_CHAT": "100000000",
            "WEBSOCKET_MAX_PER_IP": "100000000",
            # Bench agents are idle between messages for longer than a production heartbeat would allow.
            "AGENT_CONNECTION_GRACE_SECONDS": "3600",
            "JOB_INTERVAL_SECONDS": "2",
            "CHANNEL_LAYER_PREFIX": "bench",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def new_secret_key() -> str:
    return "bench-" + secrets.token_urlsafe(40)


def raise_open_files() -> int:
    """Raise this process's open-files limit to its hard limit (children inherit it); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1_048_576
    for wanted in (max(target, 65536), target):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(wanted, hard)))
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Hist:
    """An HDR histogram of durations, recorded in microseconds, reported in milliseconds."""

    def __init__(self) -> None:
        # Imported here: the bench's own dependency (the bench extra), which the test suite's loader of
        # scenario data (tests/test_bench_reports_data.py) does not need.
        from hdrh.histogram import HdrHistogram

        self.h = HdrHistogram(1, 600_000_000, 3)
        self.count = 0

    def record(self, seconds: float) -> None:
        self.h.record_value(min(max(1, int(seconds * 1_000_000)), 600_000_000))
        self.count += 1

    def add(self, other: "Hist") -> None:
        self.h.add(other.h)
        self.count += other.count

    def pct(self, percentile: float) -> float | None:
        if not self.count:
            return None
        return round(self.h.get_value_at_percentile(percentile) / 1000, 3)

    def summary(self) -> dict:
        if not self.count:
            return {"count": 0}
        return {
            "count": self.count,
            "p50_ms": self.pct(50),
            "p90_ms": self.pct(90),
            "p95_ms": self.pct(95),
            "p99_ms": self.pct(99),
            "p999_ms": self.pct(99.9),
            "max_ms": round(self.h.get_max_value() / 1000, 3),
            "mean_ms": round(self.h.get_mean_value() / 1000, 3),
        }


def now() -> float:
    return time.perf_counter()


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def machine_speed(samples: int = 7) -> dict:
    """How long a fixed piece of pure-Python work takes on this process's core, now (ms: median and
    slowest of a few). Figures taken minutes apart are comparable only if the machine ran at the same speed:
    on a shared virtual machine the same work can take twice as long from one minute to the next."""
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"median_ms": round(times[len(times) // 2], 1), "slowest_ms": round(times[-1], 1)}
