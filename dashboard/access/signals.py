"""Tell a user's open connections when their access changed or their session ended.

Changes of role, departments or the active flag reach every open connection of the user
through the user's channel-layer group, after the transaction commits.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import m2m_changed, post_save

from dashboard.access import access_cache
from dashboard.models import DashboardProfile
from dashboard.stream import publish


def notify_access_changed(user_id: int) -> None:
    """After the commit: forget this process's cached access of the user, and tell every open
    connection of the user (each forgets it in its own process too)."""

    def notify() -> None:
        access_cache.forget(user_id)
        publish.tell_user(user_id, publish.ACCESS_CHANGED)

    transaction.on_commit(notify)


def _profile_saved(sender: Any, instance: DashboardProfile, **_kwargs: Any) -> None:
    notify_access_changed(instance.user_id)


def _departments_changed(sender: Any, instance: Any, action: str, **_kwargs: Any) -> None:
    if action in ("post_add", "post_remove", "post_clear") and isinstance(instance, DashboardProfile):
        notify_access_changed(instance.user_id)


def _user_saved(sender: Any, instance: Any, created: bool, **_kwargs: Any) -> None:
    if not created:
        notify_access_changed(instance.pk)


def _logged_out(sender: Any, request: Any, user: Any, **_kwargs: Any) -> None:
    if user is not None and request.session.session_key:
        publish.tell_user(user.pk, publish.SESSION_ENDED, session_key=request.session.session_key)


def connect() -> None:
    post_save.connect(_profile_saved, sender=DashboardProfile, dispatch_uid="dash-profile-saved")
    m2m_changed.connect(
        _departments_changed,
        sender=DashboardProfile.departments.through,
        dispatch_uid="dash-profile-departments",
    )
    post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="dash-user-saved")
    user_logged_out.connect(_logged_out, dispatch_uid="dash-logged-out")
