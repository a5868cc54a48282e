import pytest
from django.core.cache import cache
from django.db import connections

from tests import factories


@pytest.fixture
def company(db):
    return factories.CompanyFactory()


@pytest.fixture
def queue(company):
    return factories.WebchatQueueFactory(company=company, name="Sales")


@pytest.fixture
def agent(company):
    return factories.MembershipFactory(company=company)


@pytest.fixture(autouse=True)
def rate_limits_start_empty():
    """Rate-limit counters live in the cache; each test starts with none."""
    cache.clear()


@pytest.fixture(scope="session", autouse=True)
def pooled_connections_close_before_the_test_database_is_dropped(django_db_setup, django_db_blocker):
    yield
    with django_db_blocker.unblock():
        connections.close_all()
        for each in connections.all():
            if hasattr(each, "close_pool"):
                each.close_pool()
