"""`python manage.py dashboard_user USERNAME --role ROLE [--departments ER,ICU]`.

Creates or updates a dashboard user. The password is read from standard input (one line),
never from the command line, where it would show in process lists and shell history.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.access.users import upsert_dashboard_user
from dashboard.models import Role


class Command(BaseCommand):
    help = "Create or update a dashboard user; the password is read from standard input."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--departments", default="", help="comma-separated department codes, e.g. ER,ICU")
        parser.add_argument(
            "--no-password", action="store_true", help="keep the current password (or none for a new user)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = None
        if not options["no_password"]:
            if sys.stdin.isatty():
                self.stderr.write("Password: ", ending="")
            password = sys.stdin.readline().rstrip("\n")
            if not password:
                raise CommandError(
                    "no password on standard input (use --no-password to keep the current one)"
                )
        departments = [code.strip() for code in options["departments"].split(",") if code.strip()]
        try:
            user, created = upsert_dashboard_user(
                username=options["username"], role=options["role"], departments=departments, password=password
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        verb = "created" if created else "updated"
        self.stdout.write(
            f"{verb} {user.username}: role {options['role']}, departments {','.join(departments) or '-'}"
        )
