"""The schema check the tests apply to every server message can fail, for each way a message can be wrong."""

import pytest

from dashboard.protocol import messages
from dashboard.protocol.errors import ErrorCode
from dashboard.protocol.scopes import HOSPITAL_SCOPE
from tests.support.schema import check_schema


def test_every_built_message_conforms_to_its_type() -> None:
    built = [
        messages.hello(
            user={"username": "a", "role": "admin", "departments": []}, scopes=["hospital"], subscribed=[]
        ),
        messages.subscribed(HOSPITAL_SCOPE, recovered=True),
        messages.unsubscribed(HOSPITAL_SCOPE, reason="forbidden"),
        messages.snapshot(HOSPITAL_SCOPE, epoch="e", seq=1, stale=False, data={}, age_s=0.5),
        messages.update(HOSPITAL_SCOPE, epoch="e", seq=2, tier="critical", data={}),
        messages.alert_acknowledged(HOSPITAL_SCOPE, epoch="e", seq=3, alert_id="x", by="ada", at="t"),
        messages.ack_result("r"),
        messages.ack_result(7, failure="unavailable"),
        messages.heartbeat(HOSPITAL_SCOPE, epoch="e", seq=3),
        messages.status({"redis": "ok", "mongo": "down"}),
        messages.pong(None),
        messages.error(ErrorCode.NOT_FOUND, "no such alert", "r"),
    ]
    for message in built:
        check_schema(dict(message))


@pytest.mark.parametrize(
    "wrong",
    [
        {"type": "subscribed", "scope": "hospital"},
        {"type": "subscribed", "scope": "hospital", "recovered": True, "revenue": 1},
        {"type": "heartbeat", "scope": "hospital", "epoch": "e", "seq": True},
        {"type": "unsubscribed", "scope": "hospital", "reason": "bored"},
        {"type": "status", "sources": {"redis": "maybe"}},
        {"type": "ack_result", "request_id": "r", "ok": False, "reason": "because"},
        {"type": "gossip"},
    ],
)
def test_a_wrong_message_fails_the_check(wrong: dict) -> None:
    with pytest.raises(AssertionError):
        check_schema(wrong)
