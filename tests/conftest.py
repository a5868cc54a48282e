import pytest

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
