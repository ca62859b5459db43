"""The environment of a production process as docs/DEPLOYMENT_GUIDE.md sets it up, for tests."""

from __future__ import annotations

import os
import secrets
import sys

from devstack.procfile import ROOT


def production_env(**overrides: str) -> dict[str, str]:
    """Production settings with the URLs from .env.example; settings connect to nothing."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "hospital_dash.settings",
        "DASH_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "dashboard.hospital.example",
        "CSRF_TRUSTED_ORIGINS": "https://dashboard.hospital.example",
        "REDIS_URL": "redis://redis.internal:6379/0",
        "MONGO_URL": "mongodb://mongo1.internal,mongo2.internal/?replicaSet=rs0",
        "DATABASE_URL": f"sqlite:///{ROOT / 'var' / 'check-deploy.sqlite3'}",
    }
    env.update(overrides)
    return env


MANAGE = [sys.executable, str(ROOT / "manage.py")]
