"""The version of the page this server serves, which an open page compares to reload after a deploy.

It is a digest of the page's own files (its templates and static files): a deploy that changes
what the browser runs changes it, and one that changes only server code does not reload every
wall screen. `GET /page/version/` (`page_views.page_version`) answers it; the page carries the
one it was rendered with.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

PAGE_FILES = (
    Path(__file__).resolve().parent.parent / "templates",
    Path(__file__).resolve().parent.parent / "static" / "dashboard",
)
VERSION_HEX_CHARS = 16


@functools.cache
def current() -> str:
    """16 hex characters of the sha256 over the page files' relative paths and contents,
    read once per process (a deploy restarts the process)."""
    digest = hashlib.sha256()
    for folder in PAGE_FILES:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:VERSION_HEX_CHARS]
