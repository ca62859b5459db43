"""Django's settings for the runner's own process: it recomputes tiers with the service's code,
which reads the hospital's time zone from them. Every MongoDB read goes to the stack's
database given explicitly; the one Redis read, bed turnaround, goes to the stack's Redis once
`chaos.stack.chaos_stack` has started it."""

from __future__ import annotations

import os


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hospital_dash.settings")
    os.environ.setdefault("DASH_ENV", "test")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:1/0")
    os.environ.setdefault("MONGO_URL", "mongodb://127.0.0.1:1")
    import django

    django.setup()
