"""The Celery application: the worker runs tier tasks, beat schedules them (contract §3)."""

import os
from typing import Any

import click
from celery import Celery
from celery.signals import beat_init, setup_logging, worker_init

from dashboard.sources import log_context

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hospital_dash.settings")

app = Celery("hospital_dash")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _keep_django_logging(**_kwargs: Any) -> None:
    """Celery leaves Django's LOGGING in place (LOG_FORMAT, LOG_LEVEL; not its --loglevel) and
    the process is named by its command: `celery beat` is beat, anything else a worker.

    Celery sends this before either logs a line, in the worker's pool processes too (which
    inherit the role); with a receiver it configures no handler of its own.
    """
    command = click.get_current_context(silent=True)
    log_context.set_role("beat" if command is not None and command.info_name == "beat" else "worker")


@worker_init.connect
def _check_worker_sources(**_kwargs: Any) -> None:
    from dashboard.sources.preflight import require_sources

    require_sources("worker")


@beat_init.connect
def _check_beat_sources(**_kwargs: Any) -> None:
    from dashboard.sources.preflight import require_sources

    require_sources("beat", mongo_needed=False)
