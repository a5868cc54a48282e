"""Signing in is throttled per account and per address.

The admin signs in through the same login (its own login page redirects there), so one throttle covers both.
"""

import logging
from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt, AccessLog
from django.conf import settings
from django.test import Client
from django.utils import timezone

from contactcentre.models import Role
from tests import factories

INBOX_LOGIN = "/accounts/login/"


@pytest.fixture
def staff(company):
    return factories.MembershipFactory(company=company, role=Role.ADMINISTRATOR, user__is_staff=True)


def client_from(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def sign_in(client: Client, url: str, username: str, password: str):
    return client.post(url, {"username": username, "password": password})


def fail_until_locked(client: Client, url: str, username: str):
    """As many wrong passwords as the limit allows; the last one is the one that locks."""
    responses = [
        sign_in(client, url, username, "not-the-password") for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert all(response.status_code == 200 for response in responses[:-1])
    return responses[-1]


def test_too_many_wrong_passwords_lock_the_account_with_a_page_saying_when_to_try_again(staff):
    response = fail_until_locked(client_from("198.51.100.7"), INBOX_LOGIN, staff.user.username)

    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many attempts" in page
    assert f"Try again in {int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)} minutes" in page
    assert response["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    assert response["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_the_right_password_is_refused_while_the_account_is_locked(staff):
    fail_until_locked(client_from("198.51.100.7"), INBOX_LOGIN, staff.user.username)

    # From another address too: the account itself is locked, not only the address that guessed.
    response = sign_in(client_from("203.0.113.9"), INBOX_LOGIN, staff.user.username, factories.PASSWORD)

    assert response.status_code == 429
    assert "_auth_user_id" not in response.wsgi_request.session
    assert "two_factor_pending" not in response.wsgi_request.session


def test_another_account_from_another_address_still_signs_in(staff, company):
    fail_until_locked(client_from("198.51.100.7"), INBOX_LOGIN, staff.user.username)
    colleague = factories.MembershipFactory(company=company)

    response = sign_in(client_from("203.0.113.9"), INBOX_LOGIN, colleague.user.username, factories.PASSWORD)

    assert response.status_code == 302
    assert response.wsgi_request.session["_auth_user_id"] == str(colleague.user.pk)


def test_the_admin_signs_in_through_the_throttled_login(staff):
    fail_until_locked(client_from("198.51.100.7"), INBOX_LOGIN, staff.user.username)

    response = client_from("203.0.113.9").get("/admin/login/", follow=True)

    assert response.redirect_chain[-1][0].startswith(INBOX_LOGIN)
    assert (
        sign_in(client_from("203.0.113.9"), INBOX_LOGIN, staff.user.username, factories.PASSWORD).status_code
        == 429
    )


def test_an_address_that_guesses_at_many_accounts_is_locked_for_every_account(company):
    guesser = client_from("198.51.100.7")
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(guesser, INBOX_LOGIN, f"someone-{attempt}", "password123")
    agent = factories.MembershipFactory(company=company)

    assert sign_in(guesser, INBOX_LOGIN, agent.user.username, factories.PASSWORD).status_code == 429
    assert (
        sign_in(client_from("203.0.113.9"), INBOX_LOGIN, agent.user.username, factories.PASSWORD).status_code
        == 302
    )


def test_the_account_signs_in_again_once_the_cool_off_has_passed(agent):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        fail_until_locked(client_from("198.51.100.7"), INBOX_LOGIN, agent.user.username)
        clock.shift(settings.AXES_COOLOFF_TIME - timedelta(seconds=5))
        assert (
            sign_in(
                client_from("203.0.113.9"), INBOX_LOGIN, agent.user.username, factories.PASSWORD
            ).status_code
            == 429
        )

        # That refused attempt started the wait again.
        clock.shift(settings.AXES_COOLOFF_TIME + timedelta(seconds=1))
        response = sign_in(client_from("203.0.113.9"), INBOX_LOGIN, agent.user.username, factories.PASSWORD)

    assert response.status_code == 302
    assert response.url == "/inbox/"


def test_the_address_that_counts_is_the_one_the_trusted_proxy_saw(settings, agent):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = client_from("10.0.0.2")
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        # The client forges a new left-hand address each time; the proxy appends the real one.
        proxy.post(
            INBOX_LOGIN,
            {"username": f"someone-{attempt}", "password": "password123"},
            headers={"X-Forwarded-For": f"192.0.2.{attempt}, 198.51.100.7"},
        )

    locked = proxy.post(
        INBOX_LOGIN,
        {"username": agent.user.username, "password": factories.PASSWORD},
        headers={"X-Forwarded-For": "192.0.2.200, 198.51.100.7"},
    )
    other_customer = proxy.post(
        INBOX_LOGIN,
        {"username": agent.user.username, "password": factories.PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )

    assert locked.status_code == 429
    assert other_customer.status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}


def test_sign_ins_and_failures_are_recorded_and_logged(agent, caplog):
    client = client_from("198.51.100.7")
    with caplog.at_level(logging.INFO, logger="contactcentre.sign_in_limits"):
        sign_in(client, INBOX_LOGIN, agent.user.username, "not-the-password")
        sign_in(client, INBOX_LOGIN, agent.user.username, factories.PASSWORD)

    failed, signed_in = [record for record in caplog.records if record.name == "contactcentre.sign_in_limits"]
    assert (failed.message, failed.username, failed.client_ip) == (
        "sign-in failed",
        agent.user.username,
        "198.51.100.7",
    )
    assert (signed_in.message, signed_in.username, signed_in.client_ip) == (
        "signed in",
        agent.user.username,
        "198.51.100.7",
    )
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == (
        agent.user.username,
        "198.51.100.7",
        1,
    )
    assert AccessLog.objects.filter(username=agent.user.username, ip_address="198.51.100.7").exists()


def test_a_lockout_is_logged_with_the_account_and_the_address(agent, caplog):
    with caplog.at_level(logging.WARNING, logger="contactcentre.sign_in_limits"):
        fail_until_locked(client_from("198.51.100.7"), INBOX_LOGIN, agent.user.username)

    lockouts = [record for record in caplog.records if "locked out" in record.message]
    assert [(record.username, record.client_ip) for record in lockouts] == [
        (agent.user.username, "198.51.100.7")
    ]
