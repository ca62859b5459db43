"""What the soak samples of a running stack: each process's RSS and open descriptors, Redis's
memory, key count and channel-layer subscriptions, and the error lines in the logs."""

from __future__ import annotations

import re
from typing import Any

import psutil
import redis

from chaos.stack import ChaosStack
from dashboard.sources.redis_store import HISTORY_PATTERN

ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback \(most recent call last\)")


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def process_sample(pid: int) -> tuple[float, int]:
    """(RSS in MiB, open file descriptors) of a process and its children (Celery's pool)."""
    rss, fds = 0, 0
    for proc in _tree(pid):
        try:
            rss += proc.memory_info().rss
            fds += proc.num_fds()
        except psutil.NoSuchProcess:
            continue
    return rss / 2**20, fds


def redis_sample(client: redis.Redis) -> dict[str, int]:
    """Redis's used memory (bytes), the part of it the replay histories hold (bytes) and the
    longest history (messages), its keys (every database) and the pub/sub channels the channel
    layer's groups are subscribed to, with their subscriber count."""
    histories = list(client.scan_iter(HISTORY_PATTERN, count=1000))
    history_bytes = sum(int(client.memory_usage(key) or 0) for key in histories)
    longest = max((int(client.zcard(key)) for key in histories), default=0)
    info = client.info()
    keys = sum(
        int(value["keys"])
        for name, value in info.items()
        if name.startswith("db") and isinstance(value, dict)
    )
    channels = client.pubsub_channels()
    memberships = sum(count for _name, count in client.pubsub_numsub(*channels)) if channels else 0
    return {
        "redis_memory": int(info["used_memory"]),
        "redis_history_memory": history_bytes,
        "redis_history_longest": longest,
        "redis_keys": keys,
        "layer_channels": len(channels),
        "layer_memberships": int(memberships),
    }


def error_lines(stack: ChaosStack) -> dict[str, list[str]]:
    """Each process's log lines at ERROR or above, and tracebacks."""
    return {
        name: [line for line in lines if ERROR_LINE.search(line)] for name, lines in stack.log_lines().items()
    }


def sample(stack: ChaosStack) -> dict[str, Any]:
    """One sample: `rss_mib` and `fds` by process name, the Redis figures, `error_lines`."""
    rss: dict[str, float] = {}
    fds: dict[str, int] = {}
    for name, pid in stack.pids().items():
        rss[name], fds[name] = process_sample(pid)
    return {
        "rss_mib": rss,
        "fds": fds,
        **redis_sample(stack.stack.redis()),
        "error_lines": sum(len(lines) for lines in error_lines(stack).values()),
    }
