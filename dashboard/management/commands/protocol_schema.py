"""`python manage.py protocol_schema`: write the WebSocket protocol's JSON Schemas to docs/protocol/.

The schemas are generated from the protocol's own definitions (dashboard/protocol/json_schema.py).
`--check` writes nothing and fails when the files there differ from what would be written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.protocol.json_schema import schema_files


def protocol_dir() -> Path:
    """docs/protocol/ of this checkout."""
    return Path(settings.BASE_DIR) / "docs" / "protocol"


def stale_files(directory: Path, files: dict[str, str]) -> list[str]:
    """Paths under `directory` that differ from `files`, are missing, or are generated no more."""
    present = {path.relative_to(directory).as_posix() for path in directory.glob("*/*.json")}
    differing = [
        path
        for path, text in files.items()
        if not (directory / path).is_file() or (directory / path).read_text(encoding="utf-8") != text
    ]
    return sorted([*differing, *(present - files.keys())])


class Command(BaseCommand):
    help = "Write the WebSocket protocol's JSON Schemas (one file per message type) to docs/protocol/."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="fail if the files are not up to date")

    def handle(self, *args: Any, **options: Any) -> None:
        directory, files = protocol_dir(), schema_files()
        stale = stale_files(directory, files)
        if options["check"]:
            if stale:
                raise CommandError(
                    f"out of date in {directory}: {', '.join(stale)}; run manage.py protocol_schema"
                )
            return
        for path in stale:
            target = directory / path
            if path in files:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(files[path], encoding="utf-8")
            else:
                target.unlink()
            self.stdout.write(f"wrote {target}" if path in files else f"removed {target}")
