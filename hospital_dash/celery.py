"""The Celery application: the worker runs tier tasks, beat schedules them (contract §3)."""

import os
from typing import Any

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hospital_dash.settings")

app = Celery("hospital_dash")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _check_worker_sources(**_kwargs: Any) -> None:
    from dashboard.sources.preflight import require_sources

    require_sources("worker")


@beat_init.connect
def _check_beat_sources(**_kwargs: Any) -> None:
    from dashboard.sources.preflight import require_sources

    require_sources("beat", mongo_needed=False)
