"""Typed readers for environment variables that fail loudly, naming the variable."""

import builtins
import ipaddress
import math
import os
import sys
import zoneinfo
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from dashboard.protocol.origins import parse_origin
from dashboard.sources.url_redaction import redact

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class EnvReader:
    """Reads one variable at a time; every error names the variable and what it expects."""

    def __init__(
        self, environment: dict[builtins.str, str] | None = None, *, exit_on_error: bool = False
    ) -> None:
        self._env = os.environ if environment is None else environment
        # Processes stop with the message alone; tests and callers may catch the exception.
        self._exit_on_error = exit_on_error

    def _raw(self, name: builtins.str) -> builtins.str | None:
        value = self._env.get(name)
        return None if value is None else value.strip()

    def _error(self, message: builtins.str) -> ImproperlyConfigured:
        if self._exit_on_error:
            print(f"configuration error: {message}", file=sys.stderr, flush=True)
            sys.exit(2)
        return ImproperlyConfigured(message)

    def _fail(
        self, name: builtins.str, expected: builtins.str, value: builtins.str | None = None
    ) -> ImproperlyConfigured:
        got = "" if value is None else f" (got {value!r})"
        return self._error(f"Environment variable {name} must be {expected}{got}. See .env.example.")

    def str(self, name: str, *, default: str | None = None) -> str:
        value = self._raw(name)
        if value:
            return value
        if default is None:
            raise self._fail(name, "set")
        return default

    def secret(self, name: builtins.str, *, required: bool, fallback: builtins.str) -> builtins.str:
        value = self._raw(name)
        if value:
            if len(value) < 32:
                raise self._error(f"Environment variable {name} must be at least 32 characters long.")
            return value
        if required:
            raise self._error(
                f"Environment variable {name} is required outside demo and test (DASH_ENV=production). "
                "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
            )
        return fallback

    def bool(self, name: builtins.str, *, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise self._fail(name, "a boolean (true/false)", value)

    def int(self, name: builtins.str, *, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        value = self._raw(name)
        if not value:
            return default
        try:
            number = int(value)
        except ValueError:
            raise self._fail(name, "a whole number", value) from None
        if number < minimum or (maximum is not None and number > maximum):
            wanted = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
            raise self._fail(name, wanted, value)
        return number

    def float(self, name: builtins.str, *, default: float, minimum: float = 0.0) -> float:
        value = self._raw(name)
        if not value:
            return default
        try:
            number = float(value)
        except ValueError:
            raise self._fail(name, "a number", value) from None
        if not number >= minimum:
            raise self._fail(name, f"a number of at least {minimum}", value)
        return number

    def positive(
        self, name: builtins.str, *, default: builtins.float, maximum: builtins.float | None = None
    ) -> builtins.float:
        """A finite number above 0 (and at most `maximum` when given): a rate in (0, 1], hours."""
        value = self._raw(name)
        if not value:
            return default
        wanted = "a number above 0" + ("" if maximum is None else f" and at most {maximum:g}")
        try:
            number = float(value)
        except ValueError:
            raise self._fail(name, wanted, value) from None
        if not (math.isfinite(number) and number > 0 and (maximum is None or number <= maximum)):
            raise self._fail(name, wanted, value)
        return number

    def list(self, name: builtins.str, *, default: Sequence[builtins.str]) -> list[builtins.str]:
        value = self._raw(name)
        if value is None:
            return list(default)
        return [item.strip() for item in value.split(",") if item.strip()]

    def networks(self, name: builtins.str, *, default: Sequence[builtins.str]) -> builtins.list[builtins.str]:
        """Comma-separated IP addresses and CIDR networks, e.g. ``10.0.0.1,10.1.0.0/16,::1``.

        Each entry is checked and returned in its canonical form; anything else (a host name,
        ``*``, a network with host bits set such as ``10.0.0.1/8``) stops start-up naming the variable.
        """
        entries = self.list(name, default=default)
        checked = []
        for entry in entries:
            try:
                checked.append(
                    str(ipaddress.ip_network(entry) if "/" in entry else ipaddress.ip_address(entry))
                )
            except ValueError:
                raise self._fail(
                    name, "comma-separated IP addresses or CIDR networks (10.0.0.1, 10.1.0.0/16)", entry
                ) from None
        return checked

    def hostports(self, name: builtins.str) -> builtins.list[tuple[builtins.str, builtins.int]]:
        """Comma-separated `host:port` pairs, e.g. ``sentinel1:26379,sentinel2:26379`` (default: none)."""
        pairs = []
        for entry in self.list(name, default=[]):
            host, _, port = entry.rpartition(":")
            if not host or not port.isdigit() or not 0 < builtins.int(port) < 65536:
                raise self._fail(
                    name, "comma-separated host:port pairs (sentinel1:26379,sentinel2:26379)", entry
                )
            pairs.append((host, builtins.int(port)))
        return pairs

    def one_of(self, first: builtins.str, second: builtins.str) -> None:
        """Stop when both variables are set: they name the same thing two ways."""
        if self._raw(first) and self._raw(second):
            raise self._error(f"Environment variables {first} and {second}: set one of them, not both.")

    def origins(self, name: builtins.str, *, default: Sequence[builtins.str]) -> builtins.list[builtins.str]:
        """Comma-separated web origins, each `http(s)://host[:port]` with nothing after it."""
        entries = self.list(name, default=default)
        for entry in entries:
            if parse_origin(entry) is None:
                raise self._fail(
                    name, "comma-separated origins such as https://dashboard.hospital.example", entry
                )
        return entries

    def choice(
        self, name: builtins.str, choices: Sequence[builtins.str], *, default: builtins.str
    ) -> builtins.str:
        value = self._raw(name) or default
        if value not in choices:
            raise self._fail(name, "one of " + ", ".join(choices), value)
        return value

    def url(
        self, name: builtins.str, *, schemes: Sequence[builtins.str], required: builtins.bool = True
    ) -> builtins.str:
        """A URL with one of `schemes`; "" when unset and not `required`."""
        value = self._raw(name)
        if not value and not required:
            return ""
        if not value:
            raise self._fail(name, f"a URL ({' or '.join(s + '://' for s in schemes)}…)")
        if urlsplit(value).scheme not in schemes:
            raise self._fail(
                name, f"a URL starting with {' or '.join(s + '://' for s in schemes)}", redact(value)
            )
        return value

    def timezone(self, name: builtins.str, *, default: builtins.str) -> builtins.str:
        value = self._raw(name) or default
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise self._fail(name, "an IANA time zone such as Europe/Berlin", value) from None
        return value

    def database(self, name: builtins.str, *, default: builtins.str) -> dict[builtins.str, Any]:
        value = self._raw(name) or default
        try:
            config: dict[builtins.str, Any] = environ.Env.db_url_config(value)
        except Exception:
            raise self._fail(name, "a database URL (sqlite:///path or postgres://…)", redact(value)) from None
        if not config.get("ENGINE"):
            raise self._fail(name, "a database URL (sqlite:///path or postgres://…)", redact(value))
        return config
