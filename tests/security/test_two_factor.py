"""Two-factor sign-in: the password alone never logs in a user with an authenticator, or one who must have it.

Codes are computed here from the device's key, as the user's app would, with the clock held still by
time-machine (TOTP codes are bound to the time, and the devices' throttling counts seconds).
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from contactcentre import two_factor
from contactcentre.models import Presence, Role
from tests import factories
from tests.two_factor_support import code_now, give_authenticator, log_in_verified, wrong_code


@pytest.fixture
def agent(company):
    return factories.MembershipFactory(company=company, presence=Presence.UNAVAILABLE)


@pytest.fixture
def administrator(company):
    return factories.MembershipFactory(
        company=company, role=Role.ADMINISTRATOR, user__is_staff=True, presence=Presence.UNAVAILABLE
    )


def password_step(client: Client, member, next_url: str = ""):
    data = {"username": member.user.username, "password": factories.PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post("/accounts/login/", data)


def is_verified(client: Client) -> bool:
    return DEVICE_ID_SESSION_KEY in client.session


# The password step.


def test_an_agent_without_an_authenticator_signs_straight_in(client, agent):
    response = password_step(client, agent)

    assert response.status_code == 302
    assert response.url == "/inbox/"
    assert client.get("/inbox/").status_code == 200
    agent.refresh_from_db()
    assert agent.presence == Presence.AVAILABLE


def test_the_password_alone_never_reaches_the_inbox_for_an_agent_with_an_authenticator(client, agent):
    give_authenticator(agent.user)

    response = password_step(client, agent)

    assert response.status_code == 302
    assert response.url == "/accounts/login/code/"
    assert client.get("/inbox/").url.startswith("/accounts/login/?next=/inbox/")
    agent.refresh_from_db()
    assert agent.presence == Presence.UNAVAILABLE  # offered no chats before the login is complete


def test_the_password_alone_never_reaches_the_admin_for_an_administrator(client, administrator):
    give_authenticator(administrator.user)

    response = password_step(client, administrator, next_url="/admin/")

    assert response.url == "/accounts/login/code/"
    admin = client.get("/admin/")
    assert admin.status_code == 302 and admin.url.startswith("/admin/login/")


def test_the_admin_login_is_the_products_login(client, db):
    response = client.get("/admin/login/", {"next": "/admin/routing/webchatqueue/"})

    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/admin/routing/webchatqueue/"


# The code step.


def test_the_right_code_from_the_app_completes_the_login_and_makes_the_agent_available(client, agent, clock):
    device = give_authenticator(agent.user)
    password_step(client, agent)

    response = client.post("/accounts/login/code/", {"code": code_now(device)})

    assert response.status_code == 302
    assert response.url == "/inbox/"
    assert is_verified(client)
    assert client.get("/inbox/").status_code == 200
    agent.refresh_from_db()
    assert agent.presence == Presence.AVAILABLE


def test_an_administrator_with_the_right_code_reaches_the_admin_they_asked_for(client, administrator, clock):
    device = give_authenticator(administrator.user)
    password_step(client, administrator, next_url="/admin/")

    response = client.post(
        "/accounts/login/code/", {"code": f"{code_now(device)[:3]} {code_now(device)[3:]}"}
    )

    assert response.url == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_the_code_step_names_its_field_for_one_time_codes(client, agent):
    give_authenticator(agent.user)
    password_step(client, agent)

    page = client.get("/accounts/login/code/").content.decode()

    assert '<label for="id_code">Code</label>' in page
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page
    assert '<label for="id_recovery_code">Recovery code</label>' in page


def test_a_wrong_code_is_refused_with_a_clear_message(client, agent, clock):
    device = give_authenticator(agent.user)
    password_step(client, agent)

    response = client.post("/accounts/login/code/", {"code": wrong_code(device)})

    assert response.status_code == 400
    assert "That code is not right" in response.content.decode()
    assert client.get("/inbox/").status_code == 302


def test_a_code_from_the_app_works_only_once(client, agent, clock):
    device = give_authenticator(agent.user)
    password_step(client, agent)
    code = code_now(device)
    client.post("/accounts/login/code/", {"code": code})
    again = Client()
    password_step(again, agent)

    response = again.post("/accounts/login/code/", {"code": code})

    assert response.status_code == 400
    assert not is_verified(again)


NONSENSE = [
    "",
    "   ",
    "abc",
    "1234567",
    "12345",
    "x" * 5000,
    "１２３４５６",
    "\x00\x01",
    "-1234",
    "12345.6",
    "' OR 1=1",
]


@pytest.mark.parametrize("code", NONSENSE)
def test_nonsense_in_the_code_step_is_a_clear_error_never_a_500(agent, clock, code):
    give_authenticator(agent.user)
    client = Client(raise_request_exception=False)
    password_step(client, agent)

    for field in ("code", "recovery_code"):
        response = client.post("/accounts/login/code/", {field: code})
        assert response.status_code == 400, field
        assert 'role="alert"' in response.content.decode()
    assert not is_verified(client)


@pytest.mark.parametrize("code", NONSENSE)
def test_nonsense_when_setting_up_or_changing_two_factor_sign_in_is_a_clear_error(administrator, code):
    client = Client(raise_request_exception=False)
    password_step(client, administrator)

    response = client.post("/accounts/two-factor/set-up/", {"code": code})

    assert response.status_code == 400 and 'role="alert"' in response.content.decode()
    verified = log_in_verified(Client(raise_request_exception=False), administrator.user)
    for path in ("/accounts/two-factor/recovery-codes/", "/accounts/two-factor/off/"):
        answer = verified.post(path, {"code": code})
        assert answer.status_code in (400, 403) and 'role="alert"' in answer.content.decode(), path


# Recovery codes.


def test_a_recovery_code_signs_in_once_and_never_again(agent, clock):
    give_authenticator(agent.user)
    code = two_factor.new_recovery_codes(agent.user)[0]
    first, second = Client(), Client()

    password_step(first, agent)
    used = first.post("/accounts/login/code/", {"recovery_code": code.upper()})
    password_step(second, agent)
    again = second.post("/accounts/login/code/", {"recovery_code": code})

    assert used.status_code == 302 and is_verified(first)
    assert again.status_code == 400
    assert "has been used already" in again.content.decode()
    assert not is_verified(second)
    assert two_factor.recovery_codes_left(agent.user) == 9


# Throttling.


def test_five_wrong_codes_end_the_half_login(client, agent, clock):
    device = give_authenticator(agent.user)
    password_step(client, agent)

    for _ in range(two_factor.MAX_WRONG_CODES - 1):
        clock.shift(timedelta(minutes=1))  # past the app's own slowing down
        assert client.post("/accounts/login/code/", {"code": wrong_code(device)}).status_code == 400
    clock.shift(timedelta(minutes=1))
    ended = client.post("/accounts/login/code/", {"code": wrong_code(device)}, follow=True)

    assert ended.redirect_chain[-1][0] == "/accounts/login/"
    assert "Too many wrong codes. Please sign in again." in ended.content.decode()
    clock.shift(timedelta(minutes=1))
    late = client.post("/accounts/login/code/", {"code": code_now(device)})
    assert late.url == "/accounts/login/"
    assert client.get("/inbox/").status_code == 302


def test_after_a_wrong_code_the_app_waits_before_the_next_try_even_in_a_new_half_login(agent, clock):
    device = give_authenticator(agent.user)
    first, second = Client(), Client()
    password_step(first, agent)
    first.post("/accounts/login/code/", {"code": wrong_code(device)})
    first.post("/accounts/login/code/", {"code": wrong_code(device)})  # too soon: not even checked

    password_step(second, agent)
    too_soon = second.post("/accounts/login/code/", {"code": code_now(device)})
    clock.shift(timedelta(seconds=2))
    in_time = second.post("/accounts/login/code/", {"code": code_now(device)})

    assert too_soon.status_code == 400
    assert "Too many wrong codes. Wait 1 second," in too_soon.content.decode()
    assert in_time.status_code == 302 and is_verified(second)


# The half-login itself.


def test_the_code_step_without_a_password_first_goes_to_the_login(client, db):
    response = client.post("/accounts/login/code/", {"code": "123456"})

    assert response.status_code == 302
    assert response.url == "/accounts/login/"


def test_a_half_login_left_for_more_than_ten_minutes_must_start_again(client, agent, clock):
    device = give_authenticator(agent.user)
    password_step(client, agent)
    clock.shift(timedelta(minutes=11))

    response = client.post("/accounts/login/code/", {"code": code_now(device)})

    assert response.url == "/accounts/login/"
    assert not is_verified(client)


def test_a_password_change_ends_a_half_login(client, agent, clock):
    device = give_authenticator(agent.user)
    password_step(client, agent)
    agent.user.set_password("another-long-password")
    agent.user.save()

    response = client.post("/accounts/login/code/", {"code": code_now(device)})

    assert response.url == "/accounts/login/"


def test_a_half_login_cannot_set_up_another_app_around_its_code_step(client, agent):
    give_authenticator(agent.user)
    password_step(client, agent)

    response = client.get("/accounts/two-factor/set-up/")

    assert response.url == "/accounts/login/code/"
    assert TOTPDevice.objects.filter(user=agent.user).count() == 1


# Enrolment.


def test_an_administrator_without_an_authenticator_must_set_one_up_before_the_admin(
    client, administrator, clock
):
    response = password_step(client, administrator, next_url="/admin/")
    assert response.url == "/accounts/two-factor/set-up/"
    assert client.get("/admin/").status_code == 302

    page = client.get("/accounts/two-factor/set-up/").content.decode()
    device = TOTPDevice.objects.get(user=administrator.user, confirmed=False)
    assert "<svg" in page and two_factor.secret_for_typing(device) in page

    wrong = client.post("/accounts/two-factor/set-up/", {"code": wrong_code(device)})
    assert wrong.status_code == 400 and "That code is not right" in wrong.content.decode()
    clock.shift(timedelta(minutes=1))
    done = client.post("/accounts/two-factor/set-up/", {"code": code_now(device)})

    assert done.status_code == 200
    codes = done.context["codes"]
    assert len(codes) == 10 == len(set(codes))
    assert all(f"<code>{code}</code>" in done.content.decode() for code in codes)
    assert is_verified(client)
    assert client.get("/admin/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed


def test_a_supervisor_without_an_authenticator_must_set_one_up_before_the_inbox(client, company):
    supervisor = factories.MembershipFactory(company=company, role=Role.SUPERVISOR)

    response = password_step(client, supervisor)

    assert response.url == "/accounts/two-factor/set-up/"
    assert client.get("/wallboard/").status_code == 302


def test_a_superuser_must_have_two_factor_sign_in(db):
    superuser = factories.UserFactory(is_superuser=True)

    assert two_factor.requirement(superuser).required


def test_reloading_the_set_up_page_keeps_the_same_secret(client, administrator):
    password_step(client, administrator)

    first = client.get("/accounts/two-factor/set-up/").context["secret"]
    second = client.get("/accounts/two-factor/set-up/").context["secret"]

    assert first == second


# A session that owes its second step.


def test_a_supervisor_session_without_its_second_step_is_sent_to_it(client, company):
    supervisor = factories.MembershipFactory(company=company, role=Role.SUPERVISOR)
    give_authenticator(supervisor.user)
    client.force_login(supervisor.user)

    response = client.get("/wallboard/")

    assert response.url == "/accounts/login/code/"
    assert client.get("/wallboard/").status_code == 302  # no longer logged in: a half-login instead
    supervisor.refresh_from_db()
    assert supervisor.presence == Presence.UNAVAILABLE


def test_a_partial_of_such_a_session_takes_the_whole_page_to_the_step(client, company):
    supervisor = factories.MembershipFactory(company=company, role=Role.SUPERVISOR)
    client.force_login(supervisor.user)

    response = client.get("/inbox/list/", headers={"HX-Request": "true"})

    assert response.headers["HX-Redirect"] == "/accounts/two-factor/set-up/"


# The Security page.


def test_the_inbox_header_links_to_the_security_page(client, agent):
    client.force_login(agent.user)

    assert '<a class="topbar__link" href="/accounts/two-factor/"' in client.get("/inbox/").content.decode()


def test_an_agent_turns_two_factor_sign_in_on_from_the_security_page(client, agent, clock):
    client.force_login(agent.user)
    assert "Off." in client.get("/accounts/two-factor/").content.decode()

    client.get("/accounts/two-factor/set-up/")
    device = TOTPDevice.objects.get(user=agent.user)
    done = client.post("/accounts/two-factor/set-up/", {"code": code_now(device)})

    assert len(done.context["codes"]) == 10
    assert is_verified(client)
    assert "On." in client.get("/accounts/two-factor/").content.decode()
    clock.shift(timedelta(minutes=1))
    later = Client()
    assert password_step(later, agent).url == "/accounts/login/code/"


def test_an_agent_turns_it_off_with_a_code_and_then_signs_in_with_the_password(client, agent, clock):
    device = give_authenticator(agent.user)
    password_step(client, agent)
    client.post("/accounts/login/code/", {"code": code_now(device)})
    refused = client.post("/accounts/two-factor/off/", {"code": wrong_code(device)})
    assert refused.status_code == 400
    clock.shift(timedelta(minutes=1))

    response = client.post("/accounts/two-factor/off/", {"code": code_now(device)})

    assert response.url == "/accounts/two-factor/"
    assert not TOTPDevice.objects.filter(user=agent.user).exists()
    assert password_step(Client(), agent).url == "/inbox/"


def test_an_administrator_cannot_turn_it_off(client, administrator, clock):
    device = give_authenticator(administrator.user)
    password_step(client, administrator)
    client.post("/accounts/login/code/", {"code": code_now(device)})
    clock.shift(timedelta(minutes=1))

    response = client.post("/accounts/two-factor/off/", {"code": code_now(device)})

    assert response.status_code == 403
    assert "Your role requires two-factor sign-in" in response.content.decode()
    assert TOTPDevice.objects.filter(user=administrator.user).exists()


def test_new_recovery_codes_replace_the_old_ones(client, administrator, clock):
    device = give_authenticator(administrator.user)
    old = two_factor.new_recovery_codes(administrator.user)
    password_step(client, administrator)
    client.post("/accounts/login/code/", {"recovery_code": old[0]})
    wrong = client.post("/accounts/two-factor/recovery-codes/", {"code": wrong_code(device)})
    clock.shift(timedelta(minutes=1))

    response = client.post("/accounts/two-factor/recovery-codes/", {"code": code_now(device)})

    assert wrong.status_code == 400 and "That code is not right" in wrong.content.decode()
    new = response.context["codes"]
    assert len(new) == 10
    assert set(
        StaticToken.objects.filter(device__user=administrator.user).values_list("token", flat=True)
    ) == set(new)
    clock.shift(timedelta(minutes=1))
    late = Client()
    password_step(late, administrator)
    assert late.post("/accounts/login/code/", {"recovery_code": old[1]}).status_code == 400


# Operators.


def test_the_admin_shows_no_authenticator_keys_even_to_a_superuser(admin_client):
    assert admin_client.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert admin_client.get("/admin/otp_static/staticdevice/").status_code == 404


def test_an_operator_takes_away_a_lost_authenticator_and_the_administrator_sets_up_a_new_one(
    client, administrator
):
    give_authenticator(administrator.user)
    two_factor.new_recovery_codes(administrator.user)
    out = StringIO()

    call_command("reset_two_factor", administrator.user.username, stdout=out)

    assert "sets up a new authenticator app" in out.getvalue()
    assert two_factor.recovery_codes_left(administrator.user) == 0
    assert password_step(client, administrator).url == "/accounts/two-factor/set-up/"


def test_resetting_an_unknown_login_says_so(db):
    with pytest.raises(CommandError, match="No login named 'nobody'"):
        call_command("reset_two_factor", "nobody")
