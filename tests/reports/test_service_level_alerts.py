"""The service-level alert: emailed through a real SMTP server on loopback to the supervisors who ask for
it, once per breach, of their own company only."""

import datetime as dt

import pytest
from django.core.cache import cache

from contactcentre.models import Role
from reports.alerts import CHECKED_KEY, alert_service_levels, check_service_levels
from routing import jobs
from routing.models import ServiceLevelBreach
from tests import factories
from tests.outbound_servers import MailServer
from tests.reports.conftest import START
from tests.reports.live_support import breaching_traffic, call, chat

MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def mail_server(settings):
    server = MailServer()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
    settings.DEFAULT_FROM_EMAIL = "alerts@centre.example"
    settings.SITE_URL = "https://centre.example"
    yield server
    server.stop()


def member(company, role, email, *, alerts):
    user = factories.UserFactory(email=email)
    return factories.MembershipFactory(company=company, user=user, role=role, kpi_alert_emails=alerts)


@pytest.fixture
def sales(company):
    queue = factories.WebchatQueueFactory(company=company, name="Sales", auto_allocate=False)
    breaching_traffic(queue, START)
    chat(queue, START - 2 * MINUTE)  # waiting now
    return queue


@pytest.fixture
def people(company):
    """Who asked for the alerts: a supervisor and an administrator, not another supervisor; an agent who
    ticked it gets nothing (the alerts are for supervisors)."""
    return {
        "asked": member(company, Role.SUPERVISOR, "sue@centre.example", alerts=True),
        "admin": member(company, Role.ADMINISTRATOR, "ada@centre.example", alerts=True),
        "quiet": member(company, Role.SUPERVISOR, "quiet@centre.example", alerts=False),
        "agent": member(company, Role.AGENT, "agent@centre.example", alerts=True),
    }


def test_the_alert_job_is_a_periodic_job():
    assert alert_service_levels in jobs.PERIODIC_JOBS


def test_a_breach_is_emailed_once_to_the_supervisors_who_asked(clock, mail_server, sales, people):
    assert check_service_levels() == 1

    assert mail_server.envelopes == [["ada@centre.example", "sue@centre.example"]]
    message = mail_server.messages[0]
    assert message["From"] == "alerts@centre.example"
    assert message["Subject"] == "Service level alert: Sales (chat) at 33 %"
    body = message.get_content()
    assert "The chat queue Sales is below its service-level warning." in body
    assert "Service level: 33 % over the last 15 minutes" in body
    assert "(target 80 % answered within 60 s; warning below 70 %)" in body
    assert "In the window: 3 answered, 1 of them within target, 0 abandoned (0 short, not counted)." in body
    assert "Waiting now: 1." in body
    assert "https://centre.example/wallboard/" in body

    # The next tick, still in breach: nothing more.
    clock.shift(30)
    assert check_service_levels() == 0
    assert len(mail_server.messages) == 1


def test_recovery_ends_the_breach_and_the_next_breach_is_emailed_again(clock, mail_server, sales, people):
    check_service_levels()
    # Recovery: six more answered within target, 7 of 9 = 77.8 %, at or above 70 %.
    for _ in range(6):
        chat(sales, START - MINUTE, answered=START - MINUTE + dt.timedelta(seconds=5))
    clock.shift(30)
    assert check_service_levels() == 0
    breach = ServiceLevelBreach.objects.get(webchat_queue=sales)
    assert breach.started_at is None and breach.ended_at is not None
    assert len(mail_server.messages) == 1

    # A new breach: three customers give up after two minutes: 7 / 12 = 58 %.
    for _ in range(3):
        chat(sales, START - 2 * MINUTE, ended=START, outcome="abandoned")
    assert check_service_levels() == 1
    assert len(mail_server.messages) == 2
    assert mail_server.messages[1]["Subject"] == "Service level alert: Sales (chat) at 58 %"


def test_a_queue_at_its_warning_or_with_no_figure_sends_nothing(clock, mail_server, company, people):
    at_warning = factories.WebchatQueueFactory(company=company, name="Exactly")
    for n in range(10):  # 7 of 10 within target: 70 %, not below the warning
        chat(
            at_warning,
            START - 5 * MINUTE,
            answered=START - 5 * MINUTE + dt.timedelta(seconds=5 if n < 7 else 90),
        )
    factories.WebchatQueueFactory(company=company, name="Empty")
    chat(factories.WebchatQueueFactory(company=company, name="Waiting only"), START - 10 * MINUTE)
    assert check_service_levels() == 0
    assert mail_server.messages == []


def test_each_company_hears_of_its_own_queues_only(clock, mail_server, sales, people):
    other = factories.CompanyFactory(name="Other")
    member(other, Role.SUPERVISOR, "oz@other.example", alerts=True)
    fine = factories.WebchatQueueFactory(company=other, name="Fine")
    chat(fine, START - MINUTE, answered=START - MINUTE)
    voice = factories.VoiceQueueFactory(company=other, name="Phones")
    call(voice, START - 5 * MINUTE, ended=START - MINUTE, outcome="abandoned")

    assert check_service_levels() == 2

    by_recipients = {
        tuple(rcpts): m["Subject"]
        for rcpts, m in zip(mail_server.envelopes, mail_server.messages, strict=True)
    }
    assert by_recipients == {
        ("ada@centre.example", "sue@centre.example"): "Service level alert: Sales (chat) at 33 %",
        ("oz@other.example",): "Service level alert: Phones (voice) at 0 %",
    }


def test_a_breach_with_nobody_to_tell_is_still_recorded_once(clock, mail_server, sales):
    assert check_service_levels() == 0
    assert ServiceLevelBreach.objects.get(webchat_queue=sales).started_at == START
    member(sales.company, Role.SUPERVISOR, "late@centre.example", alerts=True)
    assert check_service_levels() == 0  # the same breach: not sent now that someone asks
    assert mail_server.messages == []


def test_the_job_checks_at_most_once_in_its_interval(clock, mail_server, company, people):
    assert alert_service_levels() == 0  # nothing to tell yet; the check ran
    breaching_traffic(factories.WebchatQueueFactory(company=company, name="Late"), START)
    # The jobs tick every few seconds: the next ticks within SL_ALERT_CHECK_SECONDS do not check again.
    assert alert_service_levels() == 0
    assert mail_server.messages == []
    cache.delete(CHECKED_KEY)  # the interval has passed
    assert alert_service_levels() == 1
    assert mail_server.messages[0]["Subject"] == "Service level alert: Late (chat) at 33 %"
