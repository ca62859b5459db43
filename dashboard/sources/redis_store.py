"""Redis keys of the dashboard and the clients that read and write them.

Everything the service keeps in Redis is named here, so no other module spells a key.
"""

from __future__ import annotations

import functools

import redis

from dashboard.protocol.scopes import Scope
from dashboard.sources import redis_target

SOCKET_TIMEOUT_S = 5.0

EPOCH_KEY = "dash:epoch"
# The run id of the Redis master the epoch began on (dashboard/stream/publish.py).
EPOCH_MASTER_KEY = "dash:epoch:master"
# Documents skipped as invalid, by "<collection>.<field>" (dashboard/sources/skipped.py).
SKIPPED_DOCUMENTS_KEY = "dash:skipped"
# Failed logins and lockouts of every web process, by outcome (dashboard/sources/login_counts.py).
LOGIN_OUTCOMES_KEY = "dash:logins"
# When each tier was last published for any scope: tier → Unix time (GET /metrics).
TIER_PUBLISHED_KEY = "dash:tier-published"


# Each web process's last memory, CPU and connections report, kept a short while
# (dashboard/sources/web_health.py).
WEB_HEALTH_PATTERN = "dash:web-health:*"


def web_health_key(server: str) -> str:
    """The report of the web process `server` (`hostname:port`)."""
    return f"dash:web-health:{server}"


SEQ_PATTERN = "dash:seq:*"
HISTORY_PATTERN = "dash:hist:*"


def seq_key(scope: Scope) -> str:
    return f"dash:seq:{scope.key}"


def tier_key(scope: Scope, tier: str) -> str:
    return f"dash:tier:{scope.key}:{tier}"


def last_known_key(scope: Scope, tier: str) -> str:
    """The tier's last computed value, kept long after its TTL for when MongoDB is down."""
    return f"dash:last:{scope.key}:{tier}"


def history_key(scope: Scope, *, with_revenue: bool) -> str:
    return f"dash:hist:{scope.key}:{'full' if with_revenue else 'basic'}"


def published_computed_at_key(scope: Scope, tier: str) -> str:
    """When the tier last published for the scope was computed (epoch milliseconds)."""
    return f"dash:published:{scope.key}:{tier}"


def publish_lock_key(scope: Scope) -> str:
    return f"dash:lock:publish:{scope.key}"


def tier_run_lock_key(scope: Scope, tier: str) -> str:
    return f"dash:lock:tier:{scope.key}:{tier}"


def snapshot_fill_lock_key(scope: Scope, tier: str) -> str:
    """Held by the one process computing a tier the cache lacks (dashboard/metrics/cold_tiers.py)."""
    return f"dash:lock:fill:{scope.key}:{tier}"


def connection_leases_key(user_id: int) -> str:
    """The user's open connections, a sorted set of connection ids by lease time."""
    return f"dash:conns:{user_id}"


def ticket_key(ticket: str) -> str:
    return f"dash:ticket:{ticket}"


# The watcher's lease (one active watcher), its counters for /metrics, and its dead letters.
WATCHER_LEASE_KEY = "dash:watch:lease"
WATCHER_STATS_KEY = "dash:watch:stats"
WATCHER_DEAD_LETTER_STREAM = "dash:watch:dead-letter"


def alerts_sent_key(*, escalated: bool) -> str:
    """The sorted set of the alerts (or escalations) pushed, alert id → when (Unix seconds), so
    no watcher pushes one twice; one key however many alerts, trimmed as it is written."""
    return f"dash:alerts-{'escalated' if escalated else 'sent'}"


def watcher_token_key(collection: str) -> str:
    return f"dash:watch:token:{collection}"


# The critical counters the watcher maintains from change events (dashboard/metrics/maintained.py).
MAINTAINED_DEPARTMENTS_KEY = "dash:maint:departments"
MAINTAINED_LIVE_KEY = "dash:maint:live"
# Set while a check found the counters live; its deletion tells one check that the mark lapsed.
MAINTAINED_SEEN_LIVE_KEY = "dash:maint:seen-live"
# Set for a while when the mark lapsed: meanwhile the critical tier is recomputed every second.
MAINTAINED_LAPSED_KEY = "dash:maint:lapsed"
# The format of the counters a complete rebuild left, kept while events maintain them.
MAINTAINED_COMPLETE_KEY = "dash:maint:complete"


def maintained_memory_key(collection: str) -> str:
    """Each document's last contribution to the counters, by document id."""
    return f"dash:maint:doc:{collection}"


def maintained_counts_key(department: str) -> str:
    return f"dash:maint:counts:{department}"


def maintained_active_key(department: str) -> str:
    """Staff of the department by when they were last active."""
    return f"dash:maint:active:{department}"


def maintained_boarding_key(department: str) -> str:
    """Boarding patients of the department by `boarding_since` (POSIX seconds)."""
    return f"dash:maint:boarding:{department}"


# Room cleanings the watcher saw end (cleaning -> available), by end time (POSIX seconds);
# members are "<department>|<room _id>|<start>|<end>" (dashboard/metrics/turnaround.py).
TURNAROUND_KEY = "dash:flow:turnaround"


def threshold_episode_key(department: str, check: str) -> str:
    """The current crossing ("episode") of a threshold check of a department (alerts/thresholds.py)."""
    return f"dash:threshold:{department}:{check}"


def threshold_raised_key(department: str, check: str, episode: str) -> str:
    """Set once the alert of that crossing is in MongoDB."""
    return f"dash:threshold-raised:{department}:{check}:{episode}"


@functools.cache
def client() -> redis.Redis:
    """A process-wide client (redis-py pools connections and is thread-safe).

    With Sentinel its pool asks the sentinels for the master on every new connection, and a
    connection that finds a demoted master read-only is dropped, so a failover needs no restart.
    """
    return redis_target.configured().client(
        timeout_s=SOCKET_TIMEOUT_S, decode_responses=True, health_check_interval=30
    )
