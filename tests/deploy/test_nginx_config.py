"""deploy/nginx: the template renders, `nginx -t` accepts it, and a running nginx refuses
/metrics outside its allowlist and redirects plain HTTP; deploy/render.py refuses bad values."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.render import TemplateError, placeholders, render
from devstack.services import free_port
from tests.support.nginx import TEMPLATE, Certificate, Nginx, configure_nginx, self_signed_certificate


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return self_signed_certificate(tmp_path / "tls")


def test_nginx_accepts_the_rendered_template(tmp_path: Path, certificate: Certificate) -> None:
    nginx = configure_nginx(tmp_path / "nginx", certificate, [free_port(), free_port()])
    result = nginx.test_config()
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_the_template_proxies_websockets_balances_and_sets_the_forwarded_headers() -> None:
    text = TEMPLATE.read_text()
    for directive in (
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_read_timeout 1h;",
        "least_conn;",
        "max_fails=2 fail_timeout=10s;",
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "deny all;",
    ):
        assert directive in text
    assert placeholders(text) == {
        "HTTPS_LISTEN",
        "HTTP_LISTEN",
        "WEB_ADDRESS",
        "METRICS_ALLOW",
        "TLS_CERTIFICATE",
        "TLS_CERTIFICATE_KEY",
        "PID_FILE",
        "LOG_DIR",
        "TEMP_DIR",
    }


@pytest.fixture
def running_nginx(tmp_path: Path, certificate: Certificate) -> Iterator[tuple[Nginx, Certificate]]:
    """nginx whose only upstream is a closed port, with /metrics allowed to TEST-NET-1 only."""
    nginx = configure_nginx(tmp_path / "nginx", certificate, [free_port()], metrics_allow="192.0.2.0/24")
    nginx.start()
    try:
        yield nginx, certificate
    finally:
        nginx.stop()


def status_of(url: str, context: ssl.SSLContext | None = None) -> tuple[int, str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", "")


def test_metrics_outside_the_allowlist_is_refused_by_nginx(running_nginx: tuple[Nginx, Certificate]) -> None:
    nginx, certificate = running_nginx
    base = f"https://127.0.0.1:{nginx.https_port}"
    assert status_of(f"{base}/metrics", certificate.client_context())[0] == 403
    # Everything else goes to the (closed) upstream.
    assert status_of(f"{base}/healthz", certificate.client_context())[0] == 502


def test_plain_http_is_redirected_to_https(running_nginx: tuple[Nginx, Certificate]) -> None:
    nginx, _ = running_nginx
    status, location = status_of(f"http://127.0.0.1:{nginx.http_port}/accounts/login/?next=/")
    assert (status, location) == (301, "https://127.0.0.1/accounts/login/?next=/")


def test_a_list_value_repeats_its_line_and_other_values_fill_in() -> None:
    template = "upstream u {\n    server ${ADDR} weight=${W};\n}\n"
    assert render(template, {"ADDR": "10.0.0.1:8001,10.0.0.2:8001", "W": "2"}) == (
        "upstream u {\n    server 10.0.0.1:8001 weight=2;\n    server 10.0.0.2:8001 weight=2;\n}\n"
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"ADDR": "10.0.0.1"}, "missing values: W"),
        ({"ADDR": "10.0.0.1", "W": "1", "PORT": "1"}, "does not use: PORT"),
        ({"ADDR": "10.0.0.1; include /etc/passwd", "W": "1"}, "addresses, ports and paths only"),
        ({"ADDR": "10.0.0.1,", "W": "1"}, "empty item"),
        ({"ADDR": "10.0.0.1", "W": "1 backup"}, "addresses, ports and paths only"),
    ],
)
def test_render_refuses_missing_unknown_and_unsafe_values(values: dict[str, str], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render("server ${ADDR} weight=${W};\n", values)
