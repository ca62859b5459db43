#!/usr/bin/env python
"""Django's command-line utility for the live dashboard service."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hospital_dash.settings")
    from django.core.management import execute_from_command_line

    from dashboard.sources import log_context

    # Named before Django is set up, which logs its first lines (at DEBUG); any other command is "manage".
    if sys.argv[1:2] == ["watch_changes"]:
        log_context.set_role("watcher")

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
