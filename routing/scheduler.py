"""The in-process scheduler of the embedded mode: the same job functions that Celery beat runs."""

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections

from runtime import error_reporting, metrics

logger = logging.getLogger(__name__)

_started = threading.Event()


def run_jobs_once() -> None:
    from routing import jobs

    for job in jobs.PERIODIC_JOBS:
        started = time.perf_counter()
        try:
            with error_reporting.context(job=job.__name__):
                try:
                    job()
                except Exception:
                    # One failing job must not stop the others or the scheduler; the next tick retries it.
                    metrics.JOB_FAILURES.labels(job.__name__).inc()
                    logger.exception("periodic job %s failed", job.__name__)
        finally:
            metrics.JOB_DURATION.labels(job.__name__).observe(time.perf_counter() - started)
            close_old_connections()


def _loop(stop: threading.Event) -> None:
    while not stop.wait(settings.JOB_INTERVAL_SECONDS):
        run_jobs_once()


def start_in_process_jobs() -> threading.Event | None:
    """Start the job thread once per process; returns the event that stops it."""
    if _started.is_set():
        return None
    _started.set()
    stop = threading.Event()
    threading.Thread(target=_loop, args=(stop,), name="periodic-jobs", daemon=True).start()
    logger.info("periodic jobs run in this process every %ss", settings.JOB_INTERVAL_SECONDS)
    return stop
