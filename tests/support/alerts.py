"""A well-formed `alert` payload for tests that publish alerts without a MongoDB document."""

from __future__ import annotations

from dashboard.protocol.messages import AlertPayload


def sample_alert(alert_id: str, department: str = "ER") -> AlertPayload:
    return {
        "id": alert_id,
        "department": department,
        "severity": "critical",
        "kind": "code_blue",
        "message": f"test alert {alert_id}",
        "created_at": "2030-01-01T00:00:00.000Z",
    }
