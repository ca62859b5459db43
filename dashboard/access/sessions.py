"""Is a Django session still what it was when a WebSocket opened with it?

A session socket stays open only while its session is valid the way Django's own
`django.contrib.auth.get_user` decides it: the session exists, names the user, was made by a
configured backend, and carries the user's current session auth hash (which changes when the
password changes; hashes under SECRET_KEY_FALLBACKS still count). Logging out elsewhere deletes
the session; changing the password changes the hash: either closes the socket.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from importlib import import_module

from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
    load_backend,
)
from django.contrib.auth.models import AbstractBaseUser
from django.utils.crypto import constant_time_compare


def auth_hashes(user: AbstractBaseUser) -> tuple[str, ...]:
    """The session auth hashes a valid session of `user` may carry: the current one first."""
    return (user.get_session_auth_hash(), *user.get_session_auth_fallback_hash())


def hash_matches(session_hash: str | None, hashes: Collection[str]) -> bool:
    """True when `session_hash` is one of `hashes` (compared in constant time)."""
    return bool(session_hash) and any(constant_time_compare(session_hash or "", known) for known in hashes)


def current_auth_hashes(user_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """The valid session auth hashes of each active user among `user_ids`, in one query."""
    users = get_user_model().objects.filter(pk__in=set(user_ids), is_active=True)
    return {int(user.pk): auth_hashes(user) for user in users}


def session_is_valid(session_key: str | None, user_id: int) -> bool:
    """True while the session exists, belongs to `user_id`, and its hash is the user's.

    Reads the session store and the user (database queries); never changes the session.
    """
    if not session_key:
        return False
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key).load()
    backend_path = data.get(BACKEND_SESSION_KEY)
    if str(data.get(SESSION_KEY)) != str(user_id) or backend_path not in settings.AUTHENTICATION_BACKENDS:
        return False
    user = load_backend(backend_path).get_user(user_id)
    if user is None or not getattr(user, "is_active", True):
        return False
    return hash_matches(data.get(HASH_SESSION_KEY), auth_hashes(user))
