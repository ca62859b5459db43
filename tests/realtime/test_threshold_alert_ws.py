"""A threshold alert (string `_id`) over the WebSocket: acknowledged with `ack_alert` by a user of
its department, refused to another department's user, who hears nothing of it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async

from dashboard.alerts import thresholds
from tests.support.ws import bearer, open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_an_icu_threshold_alert_is_acknowledged_over_the_websocket_by_icu_only(
    ws_users, mongo_db, settings
) -> None:
    settings.THRESHOLD_OCCUPANCY = 0.9
    critical = {"rooms": {"occupancy_rate": 0.97}, "flow": {"boarding": 0, "boarding_longest_min": 0}}
    (alert_id,) = await sync_to_async(thresholds.evaluate)("ICU", critical, now=datetime.now(UTC))
    er, _, _ = await open_socket(bearer(ws_users["er"]))
    icu, _, _ = await open_socket(bearer(ws_users["icu"]))
    for socket in (er, icu):
        await socket.recv()
        await socket.recv()
    await er.send({"type": "ack_alert", "alert_id": alert_id, "request_id": "e"})
    assert (await er.recv())["code"] == "forbidden"
    await icu.send({"type": "ack_alert", "alert_id": alert_id, "request_id": "i"})
    answers = [await icu.recv(), await icu.recv()]
    assert {m["type"] for m in answers} == {"ack_result", "alert_acknowledged"}
    assert next(m for m in answers if m["type"] == "ack_result")["ok"] is True
    assert next(m for m in answers if m["type"] == "alert_acknowledged")["alert_id"] == alert_id
    assert await er.communicator.receive_nothing(timeout=0.5)
    assert mongo_db.alerts.find_one({"_id": alert_id})["acknowledged_by"] == "ian"
    await er.communicator.disconnect()
    await icu.communicator.disconnect()
