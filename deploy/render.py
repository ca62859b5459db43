"""Render a template of deploy/ (the nginx configuration) with its ports and paths.

    python3 -m deploy.render deploy/nginx/dashboard.conf.template \\
        HTTPS_LISTEN=443 WEB_ADDRESS=127.0.0.1:8001,127.0.0.1:8002 ... > /etc/nginx/nginx.conf

A template names its values as `${NAME}` (upper case); nginx's own variables are written
`$name`, without braces, and left alone. Every placeholder must be given a value and every
value must belong to a placeholder. A value may list several items, comma-separated: the line
that holds its placeholder is repeated once per item (one upstream `server` line per web
process, one `allow` line per network). Values are addresses, ports and paths, so one holding
whitespace, quotes, `;`, `{` or `}` is refused rather than written into the configuration.
Standard library only: it runs with the host's python3 before any virtualenv exists.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
UNSAFE = re.compile(r"[\s;{}'\"#$\\]")


class TemplateError(ValueError):
    pass


def placeholders(template: str) -> set[str]:
    """The names of every `${NAME}` in the template."""
    return set(PLACEHOLDER.findall(template))


def _items(name: str, value: str) -> list[str]:
    items = [item.strip() for item in value.split(",")]
    if not all(items):
        raise TemplateError(f"{name} has an empty item: {value!r}")
    for item in items:
        if UNSAFE.search(item):
            raise TemplateError(f"{name} may hold addresses, ports and paths only, not {item!r}")
    return items


def _render_line(line: str, values: dict[str, list[str]]) -> list[str]:
    names = PLACEHOLDER.findall(line)
    repeated = [name for name in names if len(values[name]) > 1]
    if len(set(repeated)) > 1:
        raise TemplateError(f"one line cannot repeat for two lists ({', '.join(sorted(set(repeated)))})")
    copies = values[repeated[0]] if repeated else [""]
    rendered = []
    for item in copies:

        def value_of(match: re.Match[str], item: str = item) -> str:
            name = match.group(1)
            return item if repeated and name == repeated[0] else values[name][0]

        rendered.append(PLACEHOLDER.sub(value_of, line))
    return rendered


def render(template: str, values: dict[str, str]) -> str:
    """The template with every placeholder replaced; TemplateError names what is wrong."""
    wanted = placeholders(template)
    missing, unknown = wanted - set(values), set(values) - wanted
    if missing or unknown:
        raise TemplateError(
            f"missing values: {', '.join(sorted(missing)) or 'none'}; "
            f"values the template does not use: {', '.join(sorted(unknown)) or 'none'}"
        )
    split = {name: _items(name, value) for name, value in values.items()}
    lines = template.splitlines(keepends=True)
    return "".join(out for line in lines for out in _render_line(line, split))


def main(argv: list[str]) -> int:
    if not argv or any("=" not in arg for arg in argv[1:]):
        print(__doc__, file=sys.stderr)
        return 2
    values = dict(arg.split("=", 1) for arg in argv[1:])
    try:
        sys.stdout.write(render(Path(argv[0]).read_text(), values))
    except (OSError, TemplateError) as exc:
        print(f"render: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
