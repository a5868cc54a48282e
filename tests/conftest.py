import pytest
from django.core.cache import cache

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
