"""Each pytest-xdist worker (`make test` runs the suite in several) gets a Redis and channel layer of its own.

Loaded with `-p tests.parallel` (pyproject's addopts), so that it runs before pytest-django imports the
settings, which read REDIS_URL, CACHE_URL and CHANNEL_LAYER_PREFIX from the environment once. pytest-django
already gives each worker a test database of its own (test_<name>_gw0, test_<name>_gw1, ...); here worker
gwN moves REDIS_URL's and CACHE_URL's database numbers on by 2N and adds "_gwN" to the channel layer's
prefix. A worker's tests then never see another's rate-limit counters (the cache, which each test clears),
its groups (Redis pub/sub is shared by every database: the prefix keeps them apart) or its subscriptions.
With REDIS_URL=redis://…/5 and CACHE_URL=redis://…/6, two workers use databases 5 and 6, 7 and 8.

Outside xdist (no PYTEST_XDIST_WORKER), and for gw0 but for the prefix, nothing changes.
"""

import os
import re
import urllib.parse

import pytest

REDIS_DATABASES = 16  # Redis's default number of databases


def shifted(url: str, by: int) -> str:
    """The Redis URL `url` with its database number (0 when it names none) moved on by `by`."""
    parts = urllib.parse.urlsplit(url)
    match = re.fullmatch(r"/?(\d*)", parts.path)
    if match is None:
        raise pytest.UsageError(f"{url}: a Redis URL whose path is a database number was expected")
    database = int(match.group(1) or 0) + by
    if database >= REDIS_DATABASES:
        raise pytest.UsageError(
            f"{url}: a pytest-xdist worker would need Redis database {database}; run fewer workers "
            "or give lower database numbers"
        )
    return urllib.parse.urlunsplit(parts._replace(path=f"/{database}"))


def worker_environment(worker: str, environ: dict) -> dict:
    """What worker `worker` ("gw0", "gw1", ...) changes in the environment `environ`."""
    number = int(worker.removeprefix("gw"))
    changed = {"CHANNEL_LAYER_PREFIX": f"{environ.get('CHANNEL_LAYER_PREFIX', 'asgi')}_{worker}"}
    for name in ("REDIS_URL", "CACHE_URL"):
        if environ.get(name):
            changed[name] = shifted(environ[name], 2 * number)
    return changed


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        os.environ.update(worker_environment(worker, os.environ))
