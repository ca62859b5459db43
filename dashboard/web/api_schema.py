"""What the API's answers look like, for its OpenAPI schema (drf-spectacular, GET /api/schema/).

The views return plain dicts built by the services; these serializers only describe them, and
the schema-driven test (tests/web/test_openapi.py) checks every answer against what is written
here. `snapshot`'s answer is the WebSocket `snapshot` message, so its schema is the protocol's
own (dashboard/protocol/json_schema.py), not a second description.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer
from rest_framework import serializers

from dashboard.protocol.errors import ErrorCode
from dashboard.protocol.json_schema import server_message_schema
from dashboard.protocol.scopes import SCOPE_PATTERN
from dashboard.sources.contract import SEVERITIES


class CodedErrorSerializer(serializers.Serializer):
    """A coded error of the service (dashboard/web/errors.py)."""

    code = serializers.ChoiceField(choices=[(code.value, code.name) for code in ErrorCode])
    message = serializers.CharField(help_text="Human-readable; do not parse it.")


class DetailSerializer(serializers.Serializer):
    """Django REST framework's own refusals: no dashboard access, CSRF, throttling, unreadable body."""

    detail = serializers.CharField()


class TokenMessageSerializer(serializers.Serializer):
    token_class = serializers.CharField()
    token_type = serializers.CharField()
    message = serializers.CharField()


class AuthenticationErrorSerializer(serializers.Serializer):
    """401: no credentials, wrong ones, or a token that is invalid, expired or revoked."""

    detail = serializers.CharField()
    code = serializers.CharField(required=False, help_text="`token_not_valid` for a bad token.")
    messages = TokenMessageSerializer(many=True, required=False)


# 400 on an endpoint with a JSON body: an object of field name -> its problems (which a
# Serializer cannot spell, so a raw JSON Schema), or DRF's `detail` for a body it cannot read.
BAD_BODY_SCHEMA = {
    "oneOf": [
        {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]},
    ]
}


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField()


class RefreshTokenSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class TokenPairSerializer(serializers.Serializer):
    refresh = serializers.CharField()
    access = serializers.CharField()


class TicketSerializer(serializers.Serializer):
    ticket = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Seconds the ticket stays valid.")


class ListedAlertSerializer(serializers.Serializer):
    id = serializers.CharField()
    department = serializers.CharField()
    severity = serializers.ChoiceField(choices=SEVERITIES)
    kind = serializers.CharField()
    message = serializers.CharField()
    created_at = serializers.CharField(help_text="ISO 8601 UTC with milliseconds and Z.")
    acknowledged_at = serializers.CharField(allow_null=True)
    acknowledged_by = serializers.CharField(allow_null=True)
    may_acknowledge = serializers.BooleanField(help_text="Whether this caller may acknowledge it.")


class AlertListSerializer(serializers.Serializer):
    scope = serializers.CharField()
    alerts = ListedAlertSerializer(many=True, help_text="At most 200, newest created_at first.")


class AcknowledgedSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="Always true.")
    alert_id = serializers.CharField()
    by = serializers.CharField(help_text="Who acknowledged it first.")
    at = serializers.CharField(help_text="When it was first acknowledged.")


class NotAcknowledgedSerializer(serializers.Serializer):
    """A data source could not confirm the acknowledgement; nothing was recorded (contract §8)."""

    ok = serializers.BooleanField(help_text="Always false.")
    reason = serializers.ChoiceField(choices=["unavailable"])


# The answer of a revocation: an empty object (a Serializer without fields documents no body).
REVOKED_SCHEMA = {"type": "object", "properties": {}, "description": "Empty: the token is revoked."}
NOT_AUTHENTICATED = OpenApiResponse(AuthenticationErrorSerializer, "No valid credentials.")
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=[429],
    description="Seconds to wait without trying (LOGIN_COOLOFF_S).",
)


def coded(description: str) -> OpenApiResponse:
    """A response whose body is a coded error (`{"code", "message"}`)."""
    return OpenApiResponse(CodedErrorSerializer, description)


def refused_or_coded(description: str) -> OpenApiResponse:
    """403: DRF's refusal (no dashboard access, CSRF) or the service's `forbidden`."""
    body = PolymorphicProxySerializer(
        component_name="Forbidden",
        serializers=[DetailSerializer, CodedErrorSerializer],
        resource_type_field_name=None,
    )
    return OpenApiResponse(body, description)


def bad_body() -> OpenApiResponse:
    """400 on an endpoint with a JSON body."""
    return OpenApiResponse(BAD_BODY_SCHEMA, "A field is missing or wrong, or the body is not readable JSON.")


SCOPE_PARAMETER = OpenApiParameter(
    "scope",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    required=True,
    pattern=SCOPE_PATTERN,
    description="`hospital` or `dept:<CODE>`.",
)
SNAPSHOT_SCHEMA = {key: value for key, value in server_message_schema("snapshot").items() if key != "title"}
