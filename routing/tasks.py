"""Celery tasks: the periodic jobs, run together once per tick.

One task per tick rather than one per job: each task costs the worker and beat far more CPU than the jobs
themselves when there is nothing to do (about 8 ms against under 1 ms), and on a server that shares its
cores with the sockets, that burst of work every tick is what the messages in flight wait for. The jobs run
in the order of `routing.jobs.PERIODIC_JOBS`, a failing one logged without stopping the others, exactly as
the embedded mode's scheduler thread runs them.
"""

from celery import shared_task

from routing import scheduler


@shared_task(ignore_result=True)
def run_periodic_jobs() -> None:
    scheduler.run_jobs_once()
