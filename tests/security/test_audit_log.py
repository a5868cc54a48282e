"""The audit log: sign-ins, failed sign-ins, sign-outs and administrative changes, each kept with when, who,
the company, what was done to which object, what changed and from which address. A company's
administrators read their own company's entries in the admin, and nobody can edit them there."""

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from contactcentre.models import AuditEntry, Membership, Role
from tests import factories
from tests.test_admin_scoping import queue_form_data
from tests.two_factor_support import log_in_verified

pytestmark = pytest.mark.django_db

Action = AuditEntry.Action
LOG = reverse("admin:contactcentre_auditentry_changelist")


@pytest.fixture
def acme():
    return factories.CompanyFactory(name="Acme")


@pytest.fixture
def brightside():
    return factories.CompanyFactory(name="Brightside")


def administrator_of(company, username: str):
    return factories.MembershipFactory(
        company=company, role=Role.ADMINISTRATOR, user__username=username, user__is_staff=True
    )


def admin_client(membership) -> Client:
    client = Client()
    log_in_verified(client, membership.user)
    return client


def log_page(membership, **query) -> str:
    response = admin_client(membership).get(LOG, query)
    assert response.status_code == 200
    return response.text


def entries(company, action) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(company=company, action=action).select_related("actor"))


def test_a_login_is_kept_with_who_when_and_from_where_in_the_own_companys_log_only(acme, brightside):
    agent = factories.MembershipFactory(company=acme, user__username="alice-of-acme")
    acme_admin, brightside_admin = (
        administrator_of(acme, "acme-admin"),
        administrator_of(brightside, "b-admin"),
    )

    response = Client(REMOTE_ADDR="203.0.113.7").post(
        reverse("login"), {"username": "alice-of-acme", "password": factories.PASSWORD}
    )

    assert response.status_code == 302
    [login] = entries(acme, Action.LOGIN)
    assert login.actor == agent.user
    assert login.remote_addr == "203.0.113.7"
    assert login.timestamp is not None
    assert "alice-of-acme" in log_page(acme_admin, action__exact=Action.LOGIN)
    assert "alice-of-acme" not in log_page(brightside_admin)


def test_a_failed_login_is_kept_in_the_log_of_the_company_whose_login_was_tried(acme, brightside):
    factories.MembershipFactory(company=acme, user__username="alice-of-acme")
    acme_admin, brightside_admin = (
        administrator_of(acme, "acme-admin"),
        administrator_of(brightside, "b-admin"),
    )

    response = Client(REMOTE_ADDR="198.51.100.4").post(
        reverse("login"), {"username": "alice-of-acme", "password": "a wrong guess"}
    )

    assert response.status_code == 200  # the form again, with its error
    [failed] = entries(acme, Action.LOGIN_FAILED)
    assert failed.username == "alice-of-acme"
    assert failed.actor is None
    assert failed.remote_addr == "198.51.100.4"
    page = log_page(acme_admin, action__exact=Action.LOGIN_FAILED)
    assert "alice-of-acme" in page and "login failed" in page
    assert "alice-of-acme" not in log_page(brightside_admin)


def test_a_failed_login_with_a_name_that_is_nobodys_is_for_the_operator_only(acme):
    acme_admin = administrator_of(acme, "acme-admin")
    operator = factories.UserFactory(username="operator", is_staff=True, is_superuser=True)

    Client().post(reverse("login"), {"username": "no-such-login", "password": "guess"})

    failed = AuditEntry.objects.get(action=Action.LOGIN_FAILED)
    assert failed.company is None and failed.username == "no-such-login"
    assert "no-such-login" not in log_page(acme_admin)
    operator_client = Client()
    log_in_verified(operator_client, operator)
    assert "no-such-login" in operator_client.get(LOG).text


def test_a_logout_is_kept_in_the_own_companys_log(acme, brightside):
    agent = factories.MembershipFactory(company=acme, user__username="alice-of-acme")
    brightside_admin = administrator_of(brightside, "b-admin")
    client = Client()
    client.force_login(agent.user)

    client.post(reverse("logout"))

    [logout] = entries(acme, Action.LOGOUT)
    assert logout.actor == agent.user
    assert logout.remote_addr == "127.0.0.1"
    assert "alice-of-acme" not in log_page(brightside_admin, action__exact=Action.LOGOUT)


def test_a_queue_edited_in_the_admin_is_kept_with_its_changes_in_the_own_companys_log_only(acme, brightside):
    queue = factories.WebchatQueueFactory(company=acme, name="Acme Sales")
    acme_admin, brightside_admin = (
        administrator_of(acme, "acme-admin"),
        administrator_of(brightside, "b-admin"),
    )

    response = admin_client(acme_admin).post(
        reverse("admin:routing_webchatqueue_change", args=[queue.pk]),
        queue_form_data(queue, name="Acme Renamed Sales", max_queue_length=7),
        REMOTE_ADDR="192.0.2.10",
    )

    assert response.status_code == 302
    [change] = entries(acme, Action.UPDATE)
    assert change.actor == acme_admin.user
    assert change.object_repr == "Acme Renamed Sales"
    assert change.changes["name"] == ["Acme Sales", "Acme Renamed Sales"]
    assert change.changes["max_queue_length"][1] == "7"
    assert change.remote_addr == "192.0.2.10"
    page = log_page(acme_admin, action__exact=Action.UPDATE)
    assert "Acme Renamed Sales" in page and "acme-admin" in page
    assert "Acme Renamed Sales" not in log_page(brightside_admin)
    other_page = admin_client(brightside_admin).get(
        reverse("admin:contactcentre_auditentry_change", args=[change.pk])
    )
    assert other_page.status_code == 302 and other_page["Location"] == reverse("admin:index")


def test_the_log_cannot_be_added_to_changed_or_deleted_through_the_admin(acme):
    queue = factories.WebchatQueueFactory(company=acme, name="Acme Sales")
    acme_admin = administrator_of(acme, "acme-admin")
    operator = factories.UserFactory(username="operator", is_staff=True, is_superuser=True)
    entry = AuditEntry.objects.get_for_object(queue).get()
    before = AuditEntry.objects.values().get(pk=entry.pk)
    count = AuditEntry.objects.count()

    for user in (acme_admin.user, operator):
        client = Client()
        log_in_verified(client, user)
        change = reverse("admin:contactcentre_auditentry_change", args=[entry.pk])
        assert client.get(change).status_code == 200  # readable
        assert 'type="submit" value="Save"' not in client.get(change).text
        client.post(change, {"object_repr": "Nothing happened", "action": Action.ACCESS})
        assert client.get(reverse("admin:contactcentre_auditentry_add")).status_code == 403
        delete = reverse("admin:contactcentre_auditentry_delete", args=[entry.pk])
        assert client.post(delete, {"post": "yes"}).status_code == 403
        client.post(LOG, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"})

    assert AuditEntry.objects.values().get(pk=entry.pk) == before
    logins = AuditEntry.objects.filter(action=Action.LOGIN).count()
    assert AuditEntry.objects.count() == count + logins


def test_the_operator_sees_every_companys_entries(acme, brightside):
    factories.WebchatQueueFactory(company=acme, name="Acme Sales")
    factories.WebchatQueueFactory(company=brightside, name="Brightside Sales")
    operator = factories.UserFactory(username="operator", is_staff=True, is_superuser=True)
    client = Client()
    log_in_verified(client, operator)

    page = client.get(LOG).text

    assert "Acme Sales" in page and "Brightside Sales" in page


def test_the_log_filters_by_action_user_and_date(acme):
    acme_admin = administrator_of(acme, "acme-admin")
    agent = factories.MembershipFactory(company=acme, user__username="alice-of-acme")
    with time_machine.travel(timezone.now() - dt.timedelta(days=30)):
        factories.WebchatQueueFactory(company=acme, name="Last month's queue")
    Client().post(reverse("login"), {"username": "alice-of-acme", "password": factories.PASSWORD})
    factories.WebchatQueueFactory(company=acme, name="Today's queue")
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)

    logins = log_page(acme_admin, action__exact=Action.LOGIN)
    by_alice = log_page(acme_admin, actor__id__exact=agent.user_id)
    this_week = log_page(
        acme_admin,
        timestamp__gte=str(midnight - dt.timedelta(days=7)),
        timestamp__lt=str(midnight + dt.timedelta(days=1)),
    )

    assert "alice-of-acme" in logins and "Today&#x27;s queue" not in logins
    assert "alice-of-acme" in by_alice and "Today&#x27;s queue" not in by_alice
    assert "Today&#x27;s queue" in this_week and "Last month" not in this_week
    assert "Last month" in log_page(acme_admin)


def test_an_agent_created_and_changed_in_the_admin_is_kept_without_their_password(acme):
    acme_admin = administrator_of(acme, "acme-admin")
    client = admin_client(acme_admin)
    form = {
        "username": "new-agent",
        "password": "A-long-enough-password-1",
        "first_name": "Nina",
        "is_active": "on",
        "role": "agent",
        "can_webchat": "on",
    }

    client.post(reverse("admin:contactcentre_membership_add"), form)
    agent = acme.members.get(user__username="new-agent")
    client.post(
        reverse("admin:contactcentre_membership_change", args=[agent.pk]),
        {**form, "password": "", "role": "supervisor"},
    )

    agents = AuditEntry.objects.get_for_model(Membership).filter(company=acme)
    created = agents.get(action=Action.CREATE)
    assert created.actor == acme_admin.user
    assert created.changes["username"] == ["None", "new-agent"]
    assert "A-long-enough-password-1" not in str(created.changes)
    changed = agents.get(action=Action.UPDATE)
    assert changed.changes == {"role": ["agent", "supervisor"]}


def test_a_forged_forwarded_address_is_not_what_the_log_keeps(acme, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    factories.MembershipFactory(company=acme, user__username="alice-of-acme")

    Client(REMOTE_ADDR="203.0.113.7").post(
        reverse("login"),
        {"username": "alice-of-acme", "password": factories.PASSWORD},
        headers={"X-Forwarded-For": "10.9.9.9"},
    )

    assert entries(acme, Action.LOGIN)[0].remote_addr == "203.0.113.7"


def test_the_engine_changing_an_agents_status_writes_nothing_to_the_log(acme):
    from routing import engine

    agent = factories.MembershipFactory(company=acme, presence="break")
    count = AuditEntry.objects.count()

    engine.agent_set_presence(agent=agent, presence="available")

    assert AuditEntry.objects.count() == count


def test_company_settings_changed_in_the_admin_are_kept_and_a_new_secret_is_never_shown(acme):
    acme_admin = administrator_of(acme, "acme-admin")
    operator = factories.UserFactory(username="operator", is_staff=True, is_superuser=True)
    change = reverse("admin:contactcentre_company_change", args=[acme.pk])
    settings_form = {
        "name": "Acme",
        "default_max_chats_per_agent": 5,
        "channel_priority": acme.channel_priority,
        "telephony_url": "",
        "transcript_retention_days": 90,
    }
    old_secret = acme.telephony_secret

    admin_client(acme_admin).post(change, settings_form)
    operator_client = Client()
    log_in_verified(operator_client, operator)
    operator_client.post(
        change, {**settings_form, "slug": acme.slug, "telephony_secret": "a-new-shared-secret"}
    )

    changes = [
        entry.changes for entry in AuditEntry.objects.get_for_object(acme).filter(action=Action.UPDATE)
    ]
    assert {"default_max_chats_per_agent": ["3", "5"], "transcript_retention_days": ["None", "90"]} in changes
    assert {"telephony_secret": ["(hidden)", "(hidden)"]} in changes
    assert "a-new-shared-secret" not in str(list(AuditEntry.objects.values()))
    assert old_secret not in str(list(AuditEntry.objects.values()))
