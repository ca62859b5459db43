"""Redis from one setting: REDIS_URL, or REDIS_SENTINELS + REDIS_SENTINEL_MASTER for every client."""

from __future__ import annotations

import subprocess
from typing import Any

from tests.support import settings_probe

PRINT_REDIS = (
    "import json, django; django.setup(); from django.conf import settings; "
    "print(json.dumps({'layer': settings.CHANNEL_LAYERS['default']['CONFIG']['hosts'], "
    "'broker': settings.CELERY_BROKER_URL, 'transport': settings.CELERY_BROKER_TRANSPORT_OPTIONS}))"
)
SENTINELS = {
    "REDIS_URL": "",
    "REDIS_SENTINELS": "s1.internal:26379,s2.internal:26380",
    "REDIS_SENTINEL_MASTER": "dash",
    "REDIS_DB": "2",
}


def settings_with(**env: str) -> subprocess.CompletedProcess[str]:
    return settings_probe.settings_with(PRINT_REDIS, **env)


def redis_settings(**env: str) -> dict[str, Any]:
    return settings_probe.printed(PRINT_REDIS, **env)


def test_a_redis_url_configures_the_layer_and_the_broker() -> None:
    got = redis_settings(REDIS_URL="redis://r.internal:6379/1")
    assert got["layer"] == [{"address": "redis://r.internal:6379/1", "socket_timeout": 10}]
    assert got["broker"] == "redis://r.internal:6379/1"
    assert got["transport"] == {}


def test_sentinels_configure_the_layer_and_the_broker() -> None:
    got = redis_settings(**SENTINELS, REDIS_PASSWORD="p@ss", REDIS_SENTINEL_PASSWORD="sentry")
    [host] = got["layer"]
    assert host["sentinels"] == [["s1.internal", 26379], ["s2.internal", 26380]]
    assert host["master_name"] == "dash"
    assert host["db"] == 2
    assert host["password"] == "p@ss"
    assert host["sentinel_kwargs"]["password"] == "sentry"
    assert got["broker"] == "sentinel://:p%40ss@s1.internal:26379/2;sentinel://:p%40ss@s2.internal:26380/2"
    assert got["transport"] == {"master_name": "dash", "sentinel_kwargs": {"password": "sentry"}}


def test_sentinels_without_a_master_name_stop_start_up_naming_it() -> None:
    done = settings_with(**{**SENTINELS, "REDIS_SENTINEL_MASTER": ""})
    assert done.returncode == 2
    assert "REDIS_SENTINEL_MASTER must be set" in done.stderr


def test_a_url_and_sentinels_together_stop_start_up() -> None:
    done = settings_with(**{**SENTINELS, "REDIS_URL": "redis://r.internal:6379/0"})
    assert done.returncode == 2
    assert "REDIS_URL and REDIS_SENTINELS: set one of them" in done.stderr
