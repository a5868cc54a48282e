"""The service-level alert: a periodic job that emails the supervisors who ask for it when a queue's live
service level falls below its warning threshold, once per breach (docs/reports.md, "Live figures and
alerts").

A breach starts when the live service level (reports.live) is below the queue's `sl_warning_pct`, and ends
when it is back at or above it. An undefined service level (nothing answered or abandoned in the window)
neither starts nor ends one. Each queue's state is a `ServiceLevelBreach` row, locked while the job
decides, so two workers running the job at once never both send; the email goes out inside that
transaction, so a failed send is rolled back and tried again at the next tick.
"""

import logging
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from contactcentre.models import Company, Membership, Role
from reports import live
from routing.models import ServiceLevelBreach
from runtime import periodic

logger = logging.getLogger(__name__)

# Set in the cache for SL_ALERT_CHECK_SECONDS by the worker that checks: the others skip until it expires.
CHECKED_KEY = "reports.alerts.checked"


def alert_service_levels(*, now: datetime | None = None) -> int:
    """The periodic job: every `SL_ALERT_CHECK_SECONDS` at most (the jobs tick every few seconds; a
    service level over minutes needs no such haste), and in one worker of all at a time, check every
    company's queues. Returns how many alerts were sent."""
    if not cache.add(CHECKED_KEY, True, timeout=settings.SL_ALERT_CHECK_SECONDS):
        return 0
    return check_service_levels(now=now)


def check_service_levels(*, now: datetime | None = None) -> int:
    """Check every enabled queue of every company, each company and each queue on its own; returns how
    many alerts were sent."""
    now = now or timezone.now()
    sent = []

    def check_company(company_id: int) -> bool:
        queues = live.queues_live(company_id=company_id, now=now)
        sent.append(periodic.each("alert_service_levels", queues, lambda q: _check(q, now), log=logger))
        return True

    companies = Company.objects.order_by("pk").values_list("pk", flat=True)
    periodic.each("alert_service_levels", list(companies), check_company, log=logger)
    return sum(sent)


def _check(queue: live.QueueLive, now: datetime) -> bool:
    level = queue.service_level_pct
    if level is None:
        return False
    field = "webchat_queue" if queue.channel == live.CHAT else "voice_queue"
    with transaction.atomic():
        breach, _ = ServiceLevelBreach.objects.get_or_create(
            **{field: queue.queue}, defaults={"company_id": queue.queue.company_id}
        )
        breach = ServiceLevelBreach.objects.select_for_update().get(pk=breach.pk)
        if not queue.below_warning:
            if breach.started_at is not None:
                breach.started_at, breach.notified_at, breach.ended_at = None, None, now
                breach.save(update_fields=["started_at", "notified_at", "ended_at"])
            return False
        if breach.started_at is not None:
            return False  # Already alerted for this breach.
        breach.started_at = breach.notified_at = now
        breach.save(update_fields=["started_at", "notified_at"])
        recipients = alert_recipients(queue.queue.company_id)
        if recipients:
            subject, body = alert_email(queue)
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
        return bool(recipients)


def alert_emails_set(*, member: Membership, on: bool) -> None:
    """A supervisor's or administrator's own choice to receive the alerts (the administrator sets anyone's
    in the admin)."""
    Membership.objects.filter(pk=member.pk).update(kpi_alert_emails=on)
    member.kpi_alert_emails = on


def alert_recipients(company_id: int) -> list[str]:
    """The email addresses of the company's supervisors and administrators who asked for the alerts."""
    return sorted(
        Membership.objects.filter(
            company_id=company_id,
            role__in=(Role.SUPERVISOR, Role.ADMINISTRATOR),
            kpi_alert_emails=True,
            user__is_active=True,
        )
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )


def alert_email(queue: live.QueueLive) -> tuple[str, str]:
    settings_ = queue.queue
    channel = "voice" if queue.channel == live.VOICE else "chat"
    level = queue.service_level_display
    subject = f"Service level alert: {queue.name} ({channel}) at {level}"
    body = (
        f"The {channel} queue {queue.name} is below its service-level warning.\n\n"
        f"Service level: {level} over the last {settings_.kpi_window_minutes} minutes "
        f"(target {settings_.sl_target_pct} % answered within {settings_.sl_target_seconds} s; "
        f"warning below {settings_.sl_warning_pct} %).\n"
        f"In the window: {queue.answered} answered, {queue.answered_within_target} of them within target, "
        f"{queue.abandoned} abandoned ({queue.short_abandoned} short, not counted).\n"
        f"Waiting now: {queue.waiting}.\n\n"
        f"The wallboard: {settings.SITE_URL}{reverse('wallboard')}\n\n"
        "You receive this once per breach: the next one comes after the service level has recovered to the "
        "warning threshold or above. Your administrator can turn these emails off in your agent settings.\n"
    )
    return subject, body
