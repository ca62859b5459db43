"""The documentation stays true to the repository: every repository file it names exists, and it
describes the product with dates and commits, not the work sessions that produced it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# A repository path as the docs write it: a top-level folder of the repository and what follows
# (`dashboard/stream/publish.py`, `tests/support/ws.py`, `bench/loadgen`, `docs/WATCHER.md`), or
# one of the top-level files. Not part of a longer path or URL (`/ws/dashboard/`, `var/demo`).
PATH = re.compile(
    r"(?<![\w./-])"
    r"((?:dashboard|tests|bench|devstack|hospital_dash|deploy|docs)/[\w./-]*\w"
    r"|\.env\.example|Procfile|Makefile)"
    r"(?![\w-])"
)

SESSION_NARRATION = re.compile(
    r"(this|later|previous|earlier|third|fourth|second) session|session's machine", re.IGNORECASE
)


def mentioned_paths(text: str) -> set[str]:
    return set(PATH.findall(text))


def doc_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_path_pattern_finds_paths_and_skips_urls() -> None:
    text = (
        "See `dashboard/stream/publish.py`, tests/support/ws.py and docs/WATCHER.md. "
        "The socket is /ws/dashboard/, the data var/demo; `.env.example` and the Procfile."
    )
    assert mentioned_paths(text) == {
        "dashboard/stream/publish.py",
        "tests/support/ws.py",
        "docs/WATCHER.md",
        ".env.example",
        "Procfile",
    }


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_every_repository_path_the_docs_mention_exists(doc: Path) -> None:
    missing = sorted(p for p in mentioned_paths(doc.read_text()) if not (ROOT / p).exists())
    assert not missing, f"{doc_id(doc)} names paths that do not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_the_docs_do_not_narrate_work_sessions(doc: Path) -> None:
    lines = [
        f"{number}: {line.strip()}"
        for number, line in enumerate(doc.read_text().splitlines(), start=1)
        if SESSION_NARRATION.search(line)
    ]
    assert not lines, f"{doc_id(doc)} says which session did what; use dates and commits:\n" + "\n".join(
        lines
    )
