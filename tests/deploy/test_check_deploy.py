"""`manage.py check --deploy` is clean with production settings, and HTTPS behaves as documented."""

from __future__ import annotations

import subprocess

import pytest
from django.test import Client

from devstack.procfile import ROOT
from tests.deploy.production_env import MANAGE, production_env


def run_check(**overrides: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MANAGE, "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(**overrides),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_passes_at_warning_level_with_production_settings() -> None:
    result = run_check()
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_still_warns_when_hsts_and_the_redirect_are_turned_off() -> None:
    result = run_check(SECURE_HSTS_SECONDS="0", SECURE_SSL_REDIRECT="false")
    assert result.returncode != 0
    assert "security.W004" in result.stderr
    assert "security.W008" in result.stderr


def test_a_bad_https_setting_stops_start_up_naming_the_variable() -> None:
    result = run_check(SECURE_HSTS_SECONDS="a year")
    assert result.returncode == 2
    assert "SECURE_HSTS_SECONDS" in result.stderr


@pytest.fixture
def https_only(settings) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000


@pytest.mark.django_db
@pytest.mark.usefixtures("https_only", "redis_client")
def test_probes_over_plain_http_are_not_redirected_but_pages_are() -> None:
    client = Client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)
    assert client.get("/metrics").status_code == 200
    page = client.get("/accounts/login/")
    assert page.status_code == 301
    assert page["Location"].startswith("https://")


@pytest.mark.django_db
@pytest.mark.usefixtures("https_only")
def test_over_https_pages_are_served_with_hsts_including_subdomains() -> None:
    page = Client().get("/accounts/login/", secure=True)
    assert page.status_code == 200
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
