"""The Celery app: periodic jobs in production (beat + worker on Redis)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcentre.settings")

app = Celery("contactcentre")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
