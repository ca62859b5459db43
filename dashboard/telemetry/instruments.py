"""Every prometheus_client instrument of the service, in one place (docs/METRICS.md names them).

With PROMETHEUS_MULTIPROC_DIR set before prometheus_client is imported, each process writes
its values to files in that directory and any web process's /metrics sums them: counters and
histograms over every process that ever wrote them since the directory was wiped, the
`livesum` gauges over the processes alive now, the `liveall` gauges one series per live pid.
Without it (unit tests, `manage.py` commands) the values stay in the process.

Units are base units: seconds, bytes.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Where a connection or a message came from: the web process's `host:port` (ASGI scope["server"]).
WS_CONNECTIONS = Gauge(
    "dash_ws_connections",
    "Open WebSocket connections, by user role and by web process (server: its host:port).",
    ["role", "server"],
    multiprocess_mode="livesum",
)
WS_COALESCED = Counter(
    "dash_ws_coalesced",
    "Updates replaced by a newer one while their client was not reading.",
)
WS_CLOSED_SLOW = Counter(
    "dash_ws_closed_slow",
    "Connections closed with 1013 because their client did not keep up.",
)
WS_MESSAGES_SENT = Counter(
    "dash_ws_messages_sent",
    "Messages sent to WebSockets, by type; a push counts once per local subscriber it is handed to.",
    ["type"],
)
WS_HANDSHAKE_FAILURES = Counter(
    "dash_ws_handshake_failures",
    "WebSocket handshakes refused after accept, by close code.",
    ["code"],
)
WS_HANDSHAKE_SECONDS = Histogram(
    "dash_ws_handshake_seconds",
    "Seconds from a WebSocket's connect to its hello sent (authentication, access, slot).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
WS_DELIVERY_SECONDS = Histogram(
    "dash_ws_delivery_seconds",
    "Seconds from a push's publication to its hand-over to the last local socket, once per push "
    "and web process.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TIER_COMPUTE_SECONDS = Histogram(
    "dash_tier_compute_seconds",
    "Seconds to compute one tier of one scope (scope_kind: hospital or department).",
    ["tier", "scope_kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
CELERY_TASKS = Counter(
    "dash_celery_tasks",
    "Celery tasks finished, by task name and outcome (success, failure, retry).",
    ["task", "outcome"],
)
SOURCE_ERRORS = Counter(
    "dash_source_errors",
    "Errors of Redis or MongoDB caught and handled (source: redis or mongo), by where.",
    ["source", "where"],
)
PROCESS_RESIDENT_MEMORY = Gauge(
    "dash_process_resident_memory_bytes",
    "Resident memory of each live process, by role.",
    ["role"],
    multiprocess_mode="liveall",
)
PROCESS_CPU_SECONDS = Gauge(
    "dash_process_cpu_seconds",
    "CPU time (user and system) each live process has used since it started; rate() it.",
    ["role"],
    multiprocess_mode="liveall",
)
PROCESS_OPEN_FDS = Gauge(
    "dash_process_open_fds",
    "Open file descriptors of each live process (every WebSocket is one), by role.",
    ["role"],
    multiprocess_mode="liveall",
)
