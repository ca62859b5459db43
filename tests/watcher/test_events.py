"""What a change event means, from plain dicts: shapes as MongoDB and as nx-27017 send them."""

from datetime import UTC, datetime

import pytest
from bson import ObjectId

from dashboard.sources.mongo_compat import normalize_change_event
from dashboard.watcher.events import BadEvent, interpret

OID = ObjectId()
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def event(operation: str, doc: dict | None, **extra: object) -> dict:
    return {
        "_id": {"_data": "t"},
        "operationType": operation,
        "documentKey": {"_id": OID},
        "fullDocument": doc,
        **extra,
    }


def alert_doc(**overrides: object) -> dict:
    return {
        "_id": OID,
        "department": "ER",
        "severity": "critical",
        "kind": "code_blue",
        "message": "Room 4",
        "created_at": NOW,
        **overrides,
    }


def test_nx_objectid_marker_is_normalized_to_an_objectid() -> None:
    raw = event("insert", {"_id": {"__neosqlite_objectid__": True, "id": str(OID)}, "department": "ER"})
    assert normalize_change_event(raw)["fullDocument"]["_id"] == OID


def test_nx_date_marker_is_normalized_to_an_aware_datetime() -> None:
    raw = event(
        "insert", {"_id": OID, "department": "ER", "created_at": {"$date": "2026-11-28T12:00:00.250000"}}
    )
    assert normalize_change_event(raw)["fullDocument"]["created_at"] == datetime(
        2026, 11, 28, 12, 0, 0, 250000, tzinfo=UTC
    )


def test_new_alert_is_recognized_with_its_fields() -> None:
    change = interpret("alerts", event("insert", alert_doc()))
    assert change.new_alert is not None
    assert change.new_alert["severity"] == "critical"


def test_alert_update_is_not_a_new_alert() -> None:
    assert interpret("alerts", event("update", alert_doc())).new_alert is None


@pytest.mark.parametrize(
    ("collection", "raw"),
    [
        ("patients", event("update", None)),
        ("patients", event("drop", None)),
        ("patients", event("somethingNew", None)),
    ],
)
def test_unusable_events_are_bad(collection: str, raw: dict) -> None:
    with pytest.raises(BadEvent):
        interpret(collection, raw)


@pytest.mark.parametrize(
    "doc",
    [
        {"_id": OID, "status": "admitted"},
        {"_id": OID, "department": 7},
        {"_id": OID, "department": "er"},
    ],
)
def test_a_document_of_no_valid_department_is_still_a_change(doc: dict) -> None:
    # Its contribution is None (actions.maintain), so it leaves the department it was in.
    change = interpret("patients", event("update", doc))
    assert (change.document, change.new_alert) == (doc, None)


@pytest.mark.parametrize(
    "doc",
    [
        alert_doc(severity="apocalyptic"),
        alert_doc(created_at="yesterday"),
        alert_doc(department="er"),
        alert_doc(created_at=datetime(1, 1, 1, tzinfo=UTC)),
        {k: v for k, v in alert_doc().items() if k != "message"},
    ],
)
def test_an_invalid_inserted_alert_is_not_pushed_but_still_a_change(doc: dict) -> None:
    change = interpret("alerts", event("insert", doc))
    assert (change.document, change.new_alert) == (doc, None)


def test_a_change_carries_the_document_after_it_and_a_delete_none() -> None:
    updated = interpret("patients", event("update", {"_id": OID, "department": "ICU", "status": "admitted"}))
    assert updated.document == {"_id": OID, "department": "ICU", "status": "admitted"}
    assert (updated.document_id, updated.new_alert) == (OID, None)
    deleted = interpret("rooms", event("delete", None))
    assert deleted.document is None
    assert deleted.document_id == OID


def test_an_event_without_a_document_key_is_bad() -> None:
    raw = event("insert", {"_id": OID, "department": "ER"})
    del raw["documentKey"]
    with pytest.raises(BadEvent):
        interpret("patients", raw)
