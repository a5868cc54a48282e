import threading

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.test import Client

from runtime import database
from tests import factories
from tests.two_factor_support import log_in_verified


@pytest.fixture
def company(db):
    return factories.CompanyFactory()


@pytest.fixture
def queue(company):
    return factories.WebchatQueueFactory(company=company, name="Sales")


@pytest.fixture
def agent(company):
    return factories.MembershipFactory(company=company)


@pytest.fixture
def admin_client(admin_user) -> Client:
    """pytest-django's superuser client, with the second step of signing in done."""
    return log_in_verified(Client(), admin_user)


@pytest.fixture(autouse=True)
def rate_limits_start_empty():
    """Rate-limit counters live in the cache; each test starts with none."""
    cache.clear()


def close_in_every_database_thread() -> None:
    """Close the connections the sockets' database threads hold (runtime/database.py).

    Each socket call closes its connection when it ends, but a call that ends after its test (a consumer's
    disconnect, the publisher's read of queue places) meets pytest-django's database blocker there, which
    refuses the check that comes before closing: its connection stays with the thread. One task per thread,
    held at a barrier until every thread has one, closes each thread's own.
    """
    size = settings.DATABASE_THREADS
    everyone_here = threading.Barrier(size)

    def close_here() -> None:
        everyone_here.wait(timeout=30)
        connections.close_all()

    for done in [database._threads.submit(close_here) for _ in range(size)]:
        done.result(timeout=60)


@pytest.fixture(scope="session", autouse=True)
def pooled_connections_close_before_the_test_database_is_dropped(django_db_setup, django_db_blocker):
    yield
    with django_db_blocker.unblock():
        close_in_every_database_thread()
        connections.close_all()
        for each in connections.all():
            if hasattr(each, "close_pool"):
                each.close_pool()
