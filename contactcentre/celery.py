"""The Celery app: periodic jobs in production (beat + worker on Redis)."""

import logging
import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcentre.settings")

app = Celery("contactcentre")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def serve_metrics(sender=None, **kwargs) -> None:
    """The worker's metrics (the periodic jobs' durations and failures ...) on METRICS_WORKER_PORT, served by
    prometheus_client's own HTTP server in the worker's main process: run the worker with `--pool solo`
    (one task a tick needs no more), so that the jobs run where the metrics are served."""
    from django.conf import settings
    from prometheus_client import start_http_server

    if settings.METRICS_WORKER_PORT:
        start_http_server(settings.METRICS_WORKER_PORT, addr=settings.METRICS_WORKER_ADDRESS)
        logging.getLogger(__name__).info(
            "metrics served on %s:%s", settings.METRICS_WORKER_ADDRESS, settings.METRICS_WORKER_PORT
        )
