"""The Celery application: the worker runs tier tasks, beat schedules them (contract §3)."""

import os
from typing import Any

import click
from celery import Celery
from celery.signals import (
    beat_init,
    setup_logging,
    task_failure,
    task_retry,
    task_success,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
)

from dashboard.sources import log_context

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hospital_dash.settings")

# `celery --app hospital_dash worker|beat` imports this module while it parses its command
# line, before Django is set up and before either logs a line (Django's set-up does, at
# DEBUG): the process is named here. Every other process imports it without a command.
_subcommand = getattr(click.get_current_context(silent=True), "invoked_subcommand", None)
if _subcommand == "worker":
    log_context.set_role("worker")
elif _subcommand == "beat":
    log_context.set_role("beat")

app = Celery("hospital_dash")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _keep_django_logging(**_kwargs: Any) -> None:
    """With a receiver of this signal Celery configures no handler of its own and leaves
    Django's LOGGING in place (LOG_FORMAT, LOG_LEVEL; its --loglevel does nothing)."""


@worker_init.connect
def _check_worker_sources(**_kwargs: Any) -> None:
    from dashboard.sources.preflight import require_sources

    require_sources("worker")
    _sample_process("worker")


@beat_init.connect
def _check_beat_sources(**_kwargs: Any) -> None:
    from dashboard.sources.preflight import require_sources

    require_sources("beat", mongo_needed=False)
    _sample_process("beat")


def _sample_process(role: str) -> None:
    """The process's memory and CPU on /metrics (dash_process_*); its live gauges leave the
    sums when it ends."""
    import atexit

    from dashboard.telemetry import exposition, process_stats

    process_stats.start_sampler(role)
    atexit.register(exposition.mark_dead)


@worker_process_init.connect
def _sample_child_process(**_kwargs: Any) -> None:
    """Each prefork child reports its memory and CPU on /metrics (dash_process_*, role worker);
    worker_process_shutdown below takes it out of the live sums."""
    from dashboard.telemetry import process_stats

    process_stats.start_sampler("worker")


@worker_process_shutdown.connect
def _child_process_ended(pid: int | None = None, **_kwargs: Any) -> None:
    """A prefork child leaves the live sums of /metrics (PROMETHEUS_MULTIPROC_DIR)."""
    from dashboard.telemetry import exposition

    exposition.mark_dead(pid)


@task_success.connect
def _count_success(sender: Any = None, **_kwargs: Any) -> None:
    _count_task(sender, "success")


@task_failure.connect
def _count_failure(sender: Any = None, **_kwargs: Any) -> None:
    _count_task(sender, "failure")


@task_retry.connect
def _count_retry(sender: Any = None, **_kwargs: Any) -> None:
    _count_task(sender, "retry")


def _count_task(task: Any, outcome: str) -> None:
    """dash_celery_tasks_total{task, outcome}; `task` is the signal's sender (a Task)."""
    from dashboard.telemetry import instruments

    instruments.CELERY_TASKS.labels(getattr(task, "name", "unknown"), outcome).inc()
