"""The periodic jobs: one Celery task a tick runs every job of `routing.jobs`, as the embedded mode's
scheduler thread does."""

import logging

from django.conf import settings

from contactcentre.celery import app
from routing import jobs, scheduler
from tests import factories
from tests.engine.conftest import drive_to, open_chat, reload


def scheduled_tasks():
    app.loader.import_default_modules()
    return [app.tasks[entry["task"]] for entry in settings.CELERY_BEAT_SCHEDULE.values()]


def test_beat_schedules_one_task_a_tick(transactional_db):
    entries = list(settings.CELERY_BEAT_SCHEDULE.values())

    assert len(entries) == 1
    assert entries[0]["schedule"] == settings.JOB_INTERVAL_SECONDS
    assert len(scheduled_tasks()) == 1


def test_one_tick_runs_every_job(transactional_db, clock, company, manual_queue):
    agent = factories.MembershipFactory(company=company)
    finished = drive_to("wrapup", manual_queue, agent)
    elsewhere = factories.CompanyFactory()
    waiting = open_chat(factories.WebchatQueueFactory(company=elsewhere, auto_allocate=True))
    # An agent whose presence changed outside the engine: only the allocation sweep gives them the chat.
    helper = factories.MembershipFactory(company=elsewhere)
    clock.shift(manual_queue.wrapup_seconds)

    for task in scheduled_tasks():
        task.apply()

    assert (reload(finished).state, reload(finished).outcome) == ("closed", "completed")  # expire_wrapups
    assert (reload(waiting).state, reload(waiting).agent) == ("inbox", helper)  # sweep_allocation


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
