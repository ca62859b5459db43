"""deploy/prometheus and deploy/grafana: promtool accepts the configuration and the rules, its
unit tests (tests/deploy/promtool/dashboard.rules.test.yml) see each alert fire and stay silent,
and every metric they name is one /metrics exports today."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from dashboard.protocol.scopes import Scope
from dashboard.stream import publish
from dashboard.watcher import stats
from dashboard.web import prometheus
from devstack.debian_packages import ensure_command
from devstack.procfile import ROOT

PROMTOOL = Path("/usr/bin/promtool")
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
GRAFANA_DASHBOARD = ROOT / "deploy" / "grafana" / "hospital-dash.json"
RULE_TESTS = ROOT / "tests" / "deploy" / "promtool" / "dashboard.rules.test.yml"
# Prometheus's own series about its targets.
SCRAPE_SERIES = {"up"}
METRIC = re.compile(r"\b(up|dash_[a-z0-9_]+)\b")
HISTOGRAM_SUFFIX = re.compile(r"_(bucket|sum|count)$")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ensure_command(PROMTOOL, "prometheus")), *args],
        cwd=PROMETHEUS_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_promtool_accepts_the_configuration_with_its_rule_file() -> None:
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout


def test_promtool_accepts_the_rules() -> None:
    result = promtool("check", "rules", "dashboard.rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def rule_tests_by_outcome() -> dict[str, set[str]]:
    """The alerts the unit tests expect to fire (`fires`) and to stay silent (`silent`) at some
    evaluation: each `alertname:` line and whether its `exp_alerts:` is `[]`."""
    outcome: dict[str, set[str]] = {"fires": set(), "silent": set()}
    alert = ""
    for line in RULE_TESTS.read_text().splitlines():
        key, _, value = line.strip().partition(": ")
        if key == "alertname":
            alert = value
        elif key == "exp_alerts" and value == "[]":
            outcome["silent"].add(alert)
        elif line.strip() == "exp_alerts:":
            outcome["fires"].add(alert)
    return outcome


def test_every_alert_is_unit_tested_firing_and_silent() -> None:
    alerts = set(rule_expressions())
    assert len(alerts) == 6
    outcome = rule_tests_by_outcome()
    assert outcome["fires"] == alerts, alerts ^ outcome["fires"]
    assert outcome["silent"] == alerts, alerts ^ outcome["silent"]


def rule_expressions() -> dict[str, str]:
    """Each alert's expression: the rest of its `expr:` line, or the block below a `>-` there.

    (No YAML library is a dependency; promtool above has checked the file's structure.)
    """
    found: dict[str, str] = {}
    lines = (PROMETHEUS_DIR / "dashboard.rules.yml").read_text().splitlines()
    alert = ""
    for number, line in enumerate(lines):
        key, _, value = line.strip().removeprefix("- ").partition(": ")
        if key == "alert":
            alert = value
        elif key == "expr" and value != ">-":
            found[alert] = value
        elif line.strip() == "expr: >-":
            indent = len(line) - len(line.lstrip())
            block = []
            for following in lines[number + 1 :]:
                if len(following) - len(following.lstrip()) <= indent:
                    break
                block.append(following.strip())
            found[alert] = " ".join(block)
    return found


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(GRAFANA_DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def metric_names(expression: str) -> set[str]:
    return {HISTOGRAM_SUFFIX.sub("", name) for name in METRIC.findall(expression)}


@pytest.fixture
def exported(redis_client) -> set[str]:
    """Every metric name a web process's /metrics holds once each kind of number exists."""
    stats.set_lag(0.1)
    publish.publish_tier(Scope("ER"), "critical", {"computed_at": "2030-01-01T00:00:00.000Z"})
    text = prometheus.render().decode()
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def test_the_rules_alert_on_what_the_issue_asks(exported: set[str]) -> None:
    rules = rule_expressions()
    assert "dash_watcher_lag_seconds) > 5" in rules["DashboardWatcherLagging"]
    assert (
        'dash_tier_last_published_timestamp_seconds{tier="critical"}) > 15'
        in rules["DashboardCriticalTierStalled"]
    )
    assert "dash_redis_up" in rules["DashboardRedisDown"]
    assert 'up{job="dashboard-web"} == 0' in rules["DashboardWebInstanceDown"]
    assert "histogram_quantile(0.99" in rules["DashboardDeliveryP99Slow"]


def test_the_rules_name_exported_metrics(exported: set[str]) -> None:
    named = {name for expr in rule_expressions().values() for name in metric_names(expr)}
    assert named <= exported | SCRAPE_SERIES, named - exported - SCRAPE_SERIES


def test_the_grafana_dashboard_is_json_whose_panels_name_exported_metrics(exported: set[str]) -> None:
    expressions = dashboard_expressions()
    assert expressions
    named = {name for expr in expressions for name in metric_names(expr)}
    assert named <= exported | SCRAPE_SERIES, named - exported - SCRAPE_SERIES
    # Every exported metric has a panel.
    assert exported <= named, exported - named
