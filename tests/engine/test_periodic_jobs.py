"""The periodic jobs: one Celery task a tick runs every job of `routing.jobs`, as the embedded mode's
scheduler thread does."""

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone

from contactcentre.celery import app
from contactcentre.models import Membership, Presence
from crm.models import Interaction
from routing import engine, jobs, scheduler
from routing.models import ServiceLevelBreach
from tests import factories
from tests.engine.conftest import drive_to, open_chat, reload
from tests.reports.live_support import breaching_traffic


def scheduled_tasks():
    app.loader.import_default_modules()
    return [app.tasks[entry["task"]] for entry in settings.CELERY_BEAT_SCHEDULE.values()]


def test_beat_schedules_one_task_a_tick(transactional_db):
    entries = list(settings.CELERY_BEAT_SCHEDULE.values())

    assert len(entries) == 1
    assert entries[0]["schedule"] == settings.JOB_INTERVAL_SECONDS
    assert len(scheduled_tasks()) == 1


def _voice_agent(queue):
    agent = factories.MembershipFactory(company=queue.company, can_voice=True)
    agent.voice_queues.add(queue)
    return agent


def _arrive(queue, name: str):
    return engine.call_arrived(company_id=queue.company_id, pbx_call_id=name, queue_slug=queue.slug)


def _work_for_every_job():
    """For each periodic job, an item (in a company of its own) that only that job moves on once its time
    has come, with a check of the job's effect on it; and the one agent who lost their connection."""
    checks = {}

    agent = factories.MembershipFactory()
    queue = factories.WebchatQueueFactory(company=agent.company, auto_allocate=False)
    finished = drive_to("wrapup", queue, agent)
    checks["expire_wrapups"] = lambda: (
        (reload(finished).state, reload(finished).outcome) == ("closed", "completed")
    )

    voice = factories.VoiceQueueFactory(ring_timeout_seconds=20)
    ringing_agent = _voice_agent(voice)
    ringing = _arrive(voice, "pbx-ringing")
    assert ringing.agent == ringing_agent
    checks["expire_call_offers"] = lambda: ringing_agent in reload(ringing).missed_by.all()

    voice = factories.VoiceQueueFactory(wrapup_seconds=30)
    talker = _voice_agent(voice)
    talked = _arrive(voice, "pbx-talked")
    engine.call_answer(agent=talker, call_id=talked.pk)
    engine.call_hang_up(agent=talker, call_id=talked.pk)
    assert reload(talked).state == "wrapup"
    checks["expire_call_wrapups"] = lambda: reload(talked).state == "closed"

    agent = factories.MembershipFactory()
    queue = factories.WebchatQueueFactory(company=agent.company, auto_allocate=False, reply_alert_seconds=30)
    unanswered = drive_to("active", queue, agent)
    engine.message_post_customer(chat_id=unanswered.pk, client_id="c-1", text="Hello?")
    checks["flag_reply_alerts"] = lambda: reload(unanswered).reply_overdue

    queue = factories.WebchatQueueFactory(auto_allocate=True)
    waiting = open_chat(queue)
    # An agent whose presence changed outside the engine: only the allocation sweep gives them the chat.
    helper = factories.MembershipFactory(company=queue.company)
    checks["sweep_allocation"] = lambda: (reload(waiting).state, reload(waiting).agent) == ("inbox", helper)

    voice = factories.VoiceQueueFactory()
    queued_call = _arrive(voice, "pbx-waiting")
    assert queued_call.state == "waiting"
    # An agent able to take calls from now on, outside the engine: only the call sweep offers them the call.
    _voice_agent(voice)
    checks["sweep_calls"] = lambda: reload(queued_call).state == "offered"

    gone = factories.MembershipFactory()
    queue = factories.WebchatQueueFactory(company=gone.company, auto_allocate=False)
    left_behind = drive_to("active", queue, gone)
    checks["expire_lost_connections"] = lambda: (
        (reload(gone).presence, reload(left_behind).state) == (Presence.UNAVAILABLE, "queued")
    )

    agent = factories.MembershipFactory()
    agent.company.transcript_retention_days = 1
    agent.company.save(update_fields=["transcript_retention_days"])
    queue = factories.WebchatQueueFactory(company=agent.company, auto_allocate=False)
    logged = drive_to("closed", queue, agent)
    interaction = Interaction.objects.get(chat=logged)
    checks["transcripts_expire"] = lambda: reload(interaction).anonymised_at is not None

    # A queue whose service level will be below its warning when the tick comes (two days from now).
    queue = factories.WebchatQueueFactory(auto_allocate=False)
    breaching_traffic(queue, timezone.now() + dt.timedelta(days=2))
    checks["alert_service_levels"] = lambda: ServiceLevelBreach.objects.filter(
        webchat_queue=queue, started_at__isnull=False
    ).exists()

    return checks, gone


def test_one_tick_runs_every_job(transactional_db, clock):
    checks, gone = _work_for_every_job()
    assert set(checks) == {job.__name__ for job in jobs.PERIODIC_JOBS}, "a job without a case here"
    clock.shift(dt.timedelta(days=2))
    # Every agent but one is still connected: each item is moved on by its own job, not by a logout.
    Membership.objects.exclude(pk=gone.pk).update(last_seen_at=timezone.now())

    for task in scheduled_tasks():
        task.apply()

    assert not [name for name, check in checks.items() if not check()], "jobs without an effect"


def test_a_failing_job_is_logged_and_the_others_still_run(
    transactional_db, monkeypatch, caplog, company, auto_queue
):
    waiting = open_chat(auto_queue)
    agent = factories.MembershipFactory(company=company)

    def broken_job():
        raise RuntimeError("the job broke")

    monkeypatch.setattr(jobs, "PERIODIC_JOBS", [broken_job, *jobs.PERIODIC_JOBS])
    with caplog.at_level(logging.ERROR, logger="routing.scheduler"):
        scheduler.run_jobs_once()

    assert [record.getMessage() for record in caplog.records] == ["periodic job broken_job failed"]
    assert reload(waiting).agent == agent
