"""The admin's password forms refuse passwords that are short, common or only digits."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from contactcentre.models import Role
from tests import factories
from tests.two_factor_support import log_in_verified

WEAK = {
    "password": "This password is too common.",
    "12345678": "This password is entirely numeric.",
    "918273645546372819": "This password is entirely numeric.",
    "k7#Vq-2mZp": "This password is too short. It must contain at least 12 characters.",
}
STRONG = "a-long-and-unusual-passphrase"


@pytest.fixture
def administrator(company):
    return factories.MembershipFactory(company=company, role=Role.ADMINISTRATOR, user__is_staff=True)


@pytest.fixture
def administrator_client(administrator) -> Client:
    client = Client()
    log_in_verified(client, administrator.user)
    return client


def new_agent(password: str) -> dict:
    return {
        "username": "carol",
        "password": password,
        "first_name": "Carol",
        "is_active": "on",
        "role": Role.AGENT,
    }


@pytest.mark.parametrize(("password", "refusal"), WEAK.items())
def test_an_administrator_cannot_give_a_new_agent_a_weak_password(administrator_client, password, refusal):
    response = administrator_client.post(reverse("admin:contactcentre_membership_add"), new_agent(password))

    assert refusal in response.context["adminform"].form.errors["password"]
    assert not get_user_model().objects.filter(username="carol").exists()


@pytest.mark.parametrize(("password", "refusal"), WEAK.items())
def test_an_administrator_cannot_change_an_agents_password_to_a_weak_one(
    administrator_client, company, password, refusal
):
    agent = factories.MembershipFactory(company=company, user__username="carol")
    form = administrator_client.get(reverse("admin:contactcentre_membership_change", args=[agent.pk]))
    data = {
        name: value
        for name, value in form.context["adminform"].form.initial.items()
        if value is not None and not isinstance(value, list)
    }
    data.update(new_agent(password), queue_profile=agent.queue_profile_id, can_webchat="on")

    response = administrator_client.post(
        reverse("admin:contactcentre_membership_change", args=[agent.pk]), data
    )

    assert refusal in response.context["adminform"].form.errors["password"]
    agent.user.refresh_from_db()
    assert agent.user.check_password(factories.PASSWORD)


@pytest.mark.parametrize(("password", "refusal"), WEAK.items())
def test_nobody_changes_their_own_password_to_a_weak_one(
    administrator_client, administrator, password, refusal
):
    response = administrator_client.post(
        reverse("admin:password_change"),
        {"old_password": factories.PASSWORD, "new_password1": password, "new_password2": password},
    )

    assert refusal in response.context["form"].errors["new_password2"]
    administrator.user.refresh_from_db()
    assert administrator.user.check_password(factories.PASSWORD)


@pytest.mark.parametrize(("password", "refusal"), WEAK.items())
def test_the_operator_cannot_set_a_weak_password_on_any_login(company, password, refusal):
    operator = factories.UserFactory(is_staff=True, is_superuser=True)
    login = factories.UserFactory()
    client = Client()
    log_in_verified(client, operator)

    response = client.post(
        reverse("admin:auth_user_password_change", args=[login.pk]),
        {"password1": password, "password2": password, "usable_password": "true"},
    )

    assert refusal in response.context["form"].errors["password2"]
    login.refresh_from_db()
    assert login.check_password(factories.PASSWORD)


def test_a_long_unusual_passphrase_is_accepted(administrator_client, administrator):
    response = administrator_client.post(
        reverse("admin:password_change"),
        {"old_password": factories.PASSWORD, "new_password1": STRONG, "new_password2": STRONG},
    )

    assert response.status_code == 302
    administrator.user.refresh_from_db()
    assert administrator.user.check_password(STRONG)
