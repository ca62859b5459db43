"""Which departments a change dirties, remembering where each document was (real Redis and MongoDB)."""

from __future__ import annotations

from bson import ObjectId

from dashboard.watcher import departments
from dashboard.watcher.events import Change

DOC = ObjectId()


def change(operation: str, department: str | None, *, moved: bool) -> Change:
    return Change("patients", operation, DOC, department, moved, None)


def test_a_move_dirties_both_departments_and_a_delete_the_last_one(redis_client) -> None:
    assert departments.dirty_departments(change("insert", "ER", moved=False)) == {"ER"}
    assert departments.dirty_departments(change("update", "ER", moved=False)) == {"ER"}
    assert departments.dirty_departments(change("update", "ICU", moved=True)) == {"ER", "ICU"}
    assert departments.dirty_departments(change("delete", None, moved=True)) == {"ICU"}


def test_a_move_from_an_unknown_place_dirties_every_department(redis_client) -> None:
    assert departments.dirty_departments(change("replace", "ER", moved=True)) is None
    assert departments.dirty_departments(change("delete", None, moved=True)) == {"ER"}
    assert departments.dirty_departments(change("delete", None, moved=True)) is None


def test_priming_remembers_every_document(mongo_db, redis_client) -> None:
    mongo_db.patients.insert_many(
        [{"_id": DOC, "department": "CARD"}, {"department": "ER"}, {"note": "none"}]
    )
    mongo_db.rooms.insert_one({"department": "ICU"})
    assert departments.prime(mongo_db, ["patients", "rooms"]) == 3
    assert departments.dirty_departments(change("update", "ER", moved=True)) == {"CARD", "ER"}
