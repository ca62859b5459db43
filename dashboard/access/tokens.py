"""The JWT endpoints' serializers (simplejwt's, with the answers the API promises).

`RefreshSerializer` (POST /api/auth/token/refresh/): a refresh token whose user was deleted is
401 `no_active_account`, as for a deactivated user; simplejwt 5.5.1 lets the user lookup's
DoesNotExist escape as a 500.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import TokenRefreshSerializer


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
