"""`make test`'s pytest-xdist workers each get Redis databases and a channel prefix of their own."""

import pytest

from tests.parallel import worker_environment

ENVIRONMENT = {
    "REDIS_URL": "redis://127.0.0.1:6379/5",
    "CACHE_URL": "redis://127.0.0.1:6379/6",
    "CHANNEL_LAYER_PREFIX": "asgi_ci",
}


def test_each_worker_has_redis_databases_and_a_channel_prefix_of_its_own():
    assert [worker_environment(worker, ENVIRONMENT) for worker in ("gw0", "gw1", "gw2")] == [
        {
            "REDIS_URL": "redis://127.0.0.1:6379/5",
            "CACHE_URL": "redis://127.0.0.1:6379/6",
            "CHANNEL_LAYER_PREFIX": "asgi_ci_gw0",
        },
        {
            "REDIS_URL": "redis://127.0.0.1:6379/7",
            "CACHE_URL": "redis://127.0.0.1:6379/8",
            "CHANNEL_LAYER_PREFIX": "asgi_ci_gw1",
        },
        {
            "REDIS_URL": "redis://127.0.0.1:6379/9",
            "CACHE_URL": "redis://127.0.0.1:6379/10",
            "CHANNEL_LAYER_PREFIX": "asgi_ci_gw2",
        },
    ]


def test_a_url_without_a_database_number_counts_from_database_0_and_keeps_its_password():
    changed = worker_environment("gw1", {"REDIS_URL": "redis://:secret@redis:6379"})

    assert changed == {"REDIS_URL": "redis://:secret@redis:6379/2", "CHANNEL_LAYER_PREFIX": "asgi_gw1"}


def test_a_worker_that_would_need_a_database_redis_lacks_is_refused_with_the_reason():
    with pytest.raises(pytest.UsageError, match="database 17"):
        worker_environment("gw6", ENVIRONMENT)
