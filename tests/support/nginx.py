"""Debian's nginx in front of test web processes, configured from deploy/nginx's template.

nginx runs in the foreground (`daemon off`) as a child process in its own session, with its
prefix, pid file, logs and temporary files under the test's directory and listening on
127.0.0.1 only; `ManagedProcess.stop()` ends it with its workers.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from deploy.render import render
from devstack.debian_packages import ensure_command
from devstack.procfile import ROOT
from devstack.services import ManagedProcess, free_port

NGINX = Path("/usr/sbin/nginx")
OPENSSL = Path("/usr/bin/openssl")
TEMPLATE = ROOT / "deploy" / "nginx" / "dashboard.conf.template"
START_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for localhost and 127.0.0.1, its key, and a context trusting it."""

    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def self_signed_certificate(directory: Path) -> Certificate:
    openssl = ensure_command(OPENSSL, "openssl")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        [
            *(str(openssl), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return Certificate(cert=cert, key=key)


@dataclass
class Nginx:
    """A rendered configuration under `prefix`, and the ports it listens on."""

    prefix: Path
    https_port: int
    http_port: int
    process: ManagedProcess | None = None

    @property
    def conf(self) -> Path:
        return self.prefix / "nginx.conf"

    def argv(self, *extra: str) -> list[str]:
        nginx = ensure_command(NGINX, "nginx")
        startup_log = str(self.prefix / "startup.log")
        return [str(nginx), "-p", str(self.prefix), "-e", startup_log, "-c", str(self.conf), *extra]

    def test_config(self) -> subprocess.CompletedProcess[str]:
        """`nginx -t` on the rendered configuration."""
        return subprocess.run(self.argv("-t"), capture_output=True, text=True, timeout=60, check=False)

    def start(self) -> None:
        self.process = ManagedProcess(
            "nginx", self.argv("-g", "daemon off;"), self.prefix / "nginx.stdout.log"
        ).start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise RuntimeError(f"nginx exited:\n{self.error_log()}")
            try:
                socket.create_connection(("127.0.0.1", self.https_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"nginx did not listen within {START_TIMEOUT_S} s:\n{self.error_log()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def error_log(self) -> str:
        logs = [self.prefix / "startup.log", self.prefix / "logs" / "error.log"]
        return "\n".join(path.read_text(errors="replace")[-4000:] for path in logs if path.exists())


def configure_nginx(
    prefix: Path, certificate: Certificate, web_ports: list[int], metrics_allow: str = "127.0.0.1"
) -> Nginx:
    """Render deploy/nginx's template for web processes on `web_ports`, on free ports."""
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    (prefix / "temp").mkdir(parents=True, exist_ok=True)
    nginx = Nginx(prefix=prefix, https_port=free_port(), http_port=free_port())
    values = {
        "HTTPS_LISTEN": f"127.0.0.1:{nginx.https_port}",
        "HTTP_LISTEN": f"127.0.0.1:{nginx.http_port}",
        "WEB_ADDRESS": ",".join(f"127.0.0.1:{port}" for port in web_ports),
        "METRICS_ALLOW": metrics_allow,
        "TLS_CERTIFICATE": str(certificate.cert),
        "TLS_CERTIFICATE_KEY": str(certificate.key),
        "PID_FILE": str(prefix / "nginx.pid"),
        "LOG_DIR": str(prefix / "logs"),
        "TEMP_DIR": str(prefix / "temp"),
    }
    nginx.conf.write_text(render(TEMPLATE.read_text(), values))
    return nginx
