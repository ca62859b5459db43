"""The Celery application: the worker runs tier tasks, beat schedules them (contract §3)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hospital_dash.settings")

app = Celery("hospital_dash")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
