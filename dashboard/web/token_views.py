"""The JWT endpoints: simplejwt's views, with their answers stated for the OpenAPI schema.

What they do is simplejwt's, with the serializers of `dashboard.access.tokens` (SIMPLE_JWT).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework_simplejwt import views as jwt_views

from dashboard.web import api_schema as doc

_BAD_REFRESH_TOKEN = OpenApiResponse(
    doc.AuthenticationErrorSerializer,
    "The refresh token is invalid, expired, revoked or an access token (`token_not_valid`).",
)


@extend_schema_view(
    post=extend_schema(
        operation_id="token_obtain",
        summary="A JWT pair for a username and password",
        tags=["auth"],
        request=doc.CredentialsSerializer,
        parameters=[doc.RETRY_AFTER],
        responses={
            200: doc.TokenPairSerializer,
            400: doc.bad_body(),
            401: OpenApiResponse(
                doc.AuthenticationErrorSerializer, "Wrong credentials or an inactive account."
            ),
            429: OpenApiResponse(
                doc.DetailSerializer, "The username or the client address is locked out after failed logins."
            ),
        },
    )
)
class TokenObtainView(jwt_views.TokenObtainPairView):
    pass


@extend_schema_view(
    post=extend_schema(
        operation_id="token_refresh",
        summary="A new access token and, as refresh tokens rotate, a new refresh token",
        tags=["auth"],
        request=doc.RefreshTokenSerializer,
        responses={
            200: doc.TokenPairSerializer,
            400: doc.bad_body(),
            401: OpenApiResponse(
                doc.AuthenticationErrorSerializer,
                f"{_BAD_REFRESH_TOKEN.description} Also for a user deactivated or deleted since.",
            ),
        },
    )
)
class TokenRefreshView(jwt_views.TokenRefreshView):
    pass


@extend_schema_view(
    post=extend_schema(
        operation_id="token_blacklist",
        summary="Revoke a refresh token (works for a deactivated or deleted user too)",
        tags=["auth"],
        request=doc.RefreshTokenSerializer,
        responses={200: doc.REVOKED_SCHEMA, 400: doc.bad_body(), 401: _BAD_REFRESH_TOKEN},
    )
)
class TokenBlacklistView(jwt_views.TokenBlacklistView):
    pass
