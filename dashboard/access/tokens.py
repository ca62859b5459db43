"""The JWT endpoints' serializers (simplejwt's, with the answers the API promises).

`LoginSerializer` (POST /api/auth/token/): while django-axes has locked the username or the
client address out, 429 with `Retry-After` (seconds) instead of simplejwt's 401. axes refuses
the attempt but marks DRF's Request wrapper, which its middleware never sees, so the answer is
decided here.

`RefreshSerializer` (POST /api/auth/token/refresh/): a refresh token whose user was deleted is
401 `no_active_account`, as for a deactivated user; simplejwt 5.5.1 lets the user lookup's
DoesNotExist escape as a 500.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer

from dashboard.access.login_throttle import cool_off_s


class LoginSerializer(TokenObtainPairSerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        """`{"refresh": str, "access": str}`; AuthenticationFailed (401) for wrong credentials or an
        inactive account; Throttled (429, `Retry-After`: LOGIN_COOLOFF_S) while locked out."""
        try:
            return super().validate(attrs)
        except AuthenticationFailed:
            request = self.context["request"]
            if getattr(request, "axes_locked_out", False):
                raise Throttled(wait=cool_off_s(request)) from None
            raise


class RefreshSerializer(TokenRefreshSerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        """`{"access": str, "refresh": str}`; AuthenticationFailed (401) when the user is gone or inactive.

        A bad, expired or blacklisted token is simplejwt's InvalidToken (401) as before.
        """
        try:
            return super().validate(attrs)
        except get_user_model().DoesNotExist:
            raise AuthenticationFailed(
                self.error_messages["no_active_account"], "no_active_account"
            ) from None
