"""`seed_demo` creates the demo once, prints what PROTOCOL.md documents, and keeps its logins working; it
refuses to put its published logins into a production configuration unless forced."""

import json
import os
import re
import subprocess
import sys
import time
from base64 import b32decode
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from contactcentre.management.commands.seed_demo import DEMO_USERS, demo_logins
from contactcentre.models import Membership, Role
from tests import factories

pytestmark = pytest.mark.django_db


def sign_in_request():
    """Sign-ins are counted per address, so authenticating needs the request it came with."""
    return RequestFactory().post("/accounts/login/")


@pytest.fixture(autouse=True)
def development(settings):
    """The demo is seeded where the product runs for development (DEBUG on), as `make run` does."""
    settings.DEBUG = True


def seed_demo_json() -> dict:
    out = StringIO()
    call_command("seed_demo", "--json", stdout=out)
    return json.loads(out.getvalue())


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def test_running_it_twice_creates_nothing_new_and_prints_the_same():
    first = seed_demo_json()
    counts = row_counts()

    second = seed_demo_json()

    assert second == first
    assert row_counts() == counts


def test_the_json_is_shaped_as_documented():
    demo = seed_demo_json()

    assert set(demo) == {"company", "queues", "voice_queues", "telephony_secret", "users"}
    assert demo["company"] == "demo"
    assert [(queue["name"], queue["auto_allocate"]) for queue in demo["queues"]] == [
        ("Sales", True),
        ("Support", False),
    ]
    assert all(
        set(queue) == {"name", "token", "auto_allocate"} and queue["token"] for queue in demo["queues"]
    )
    assert demo["voice_queues"] == [{"slug": "switchboard"}]
    assert isinstance(demo["telephony_secret"], str) and demo["telephony_secret"]
    assert demo["users"] == demo_logins()
    assert {user["role"] for user in demo["users"]} == set(Role.values)


def test_every_printed_login_logs_in():
    for user in seed_demo_json()["users"]:
        assert (
            authenticate(sign_in_request(), username=user["username"], password=user["password"]) is not None
        )


def test_only_the_administrator_is_staff():
    seed_demo_json()

    staff = {member.user.username for member in Membership.objects.filter(user__is_staff=True)}
    assert staff == {"ada"}


def test_the_agents_take_chats_and_calls_from_every_queue():
    seed_demo_json()

    for agent in Membership.objects.filter(role=Role.AGENT):
        assert agent.can_webchat and agent.can_voice
        assert agent.queue_profile.all_queues
        assert [queue.slug for queue in agent.voice_queues.all()] == ["switchboard"]


def test_a_changed_demo_password_is_set_back():
    seed_demo_json()
    alice = Membership.objects.get(user__username="alice").user
    alice.set_password("something-else-entirely")
    alice.save()

    seed_demo_json()

    assert authenticate(sign_in_request(), username="alice", password="demo-password-1") is not None


def test_a_login_of_the_same_name_outside_the_demo_is_left_alone():
    ada = factories.UserFactory(username="ada")

    with pytest.raises(CommandError, match="ada"):
        seed_demo_json()

    ada.refresh_from_db()
    assert ada.check_password(factories.PASSWORD)
    assert not ada.is_staff


def test_without_json_it_prints_a_summary_with_the_logins():
    out = StringIO()

    call_command("seed_demo", stdout=out)

    assert "Demo Company" in out.getvalue()
    assert "alice / demo-password-1" in out.getvalue()


def test_the_start_up_banner_shows_the_pages_and_the_demo_logins():
    out = StringIO()

    call_command("run_banner", "--host", "0.0.0.0", "--port", "8001", stdout=out)

    for path in ["/inbox/", "/wallboard/", "/admin/", "/demo/"]:
        assert f"http://127.0.0.1:8001{path}" in out.getvalue()
    for login in demo_logins():
        assert login["username"] in out.getvalue() and login["password"] in out.getvalue()


def test_the_supervisor_and_the_administrator_sign_in_with_their_printed_authenticator_key(client):
    logins = [user for user in seed_demo_json()["users"] if "totp_secret" in user]
    assert {login["role"] for login in logins} == {Role.SUPERVISOR, Role.ADMINISTRATOR}

    with time_machine.travel(datetime(2026, 12, 7, 9, 0, tzinfo=UTC), tick=False):
        for login in logins:
            client.post("/accounts/login/", {"username": login["username"], "password": login["password"]})
            out = StringIO()
            call_command("demo_codes", stdout=out)
            code = re.search(rf"^{login['username']}\s+(\d{{6}})", out.getvalue(), re.M).group(1)
            totp = TOTP(b32decode(login["totp_secret"]))
            totp.time = time.time()

            response = client.post("/accounts/login/code/", {"code": code})

            assert code == f"{totp.token():06d}"
            assert response.status_code == 302 and response.url == "/inbox/"
            client.post("/accounts/logout/")


def test_a_replaced_demo_authenticator_is_set_back():
    seed_demo_json()
    sam = Membership.objects.get(user__username="sam").user
    TOTPDevice.objects.filter(user=sam).delete()
    TOTPDevice.objects.create(user=sam, name="Another phone", confirmed=True)

    seed_demo_json()

    device = TOTPDevice.objects.get(user=sam)
    assert device.key == b32decode(next(u.totp_secret for u in DEMO_USERS if u.username == "sam")).hex()


def test_the_start_up_banner_shows_the_demo_authenticator_keys():
    out = StringIO()

    call_command("run_banner", stdout=out)

    for login in demo_logins():
        if "totp_secret" in login:
            assert login["totp_secret"] in out.getvalue()
    assert "manage.py demo_codes" in out.getvalue()


def test_it_refuses_to_run_with_debug_off_and_creates_nothing(settings):
    settings.DEBUG = False
    counts = row_counts()

    with pytest.raises(CommandError, match="--force") as refusal:
        call_command("seed_demo")

    assert "DEBUG is off" in str(refusal.value)
    assert row_counts() == counts


def test_with_force_it_seeds_the_demo_with_debug_off(settings):
    settings.DEBUG = False
    out = StringIO()

    call_command("seed_demo", "--json", "--force", stdout=out)

    assert json.loads(out.getvalue())["company"] == "demo"
    assert authenticate(sign_in_request(), username="alice", password="demo-password-1") is not None


def test_from_the_command_line_the_refusal_is_a_clear_message_and_a_failing_exit_code():
    root = Path(__file__).resolve().parent.parent
    environment = {**os.environ, "DEBUG": "0", "SECRET_KEY": "a-production-like-secret-key"}

    result = subprocess.run(
        [sys.executable, "manage.py", "seed_demo"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "Refusing to seed the demo" in result.stderr
    assert "Traceback" not in result.stderr
