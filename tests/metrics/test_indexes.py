from django.core.management import call_command

from dashboard.metrics.indexes import INDEXES, ensure_indexes


def test_ensure_indexes_creates_each_index_once(mongo_db) -> None:
    first = ensure_indexes(mongo_db)
    second = ensure_indexes(mongo_db)
    assert first == second
    assert len(first) == sum(len(indexes) for indexes in INDEXES.values())
    # Compared by keys: the embedded MongoDB renames indexes (docs/MONGODB_COMPATIBILITY.md).
    for collection, indexes in INDEXES.items():
        keys = {tuple(index["key"].items()) for index in mongo_db[collection].list_indexes()}
        for index in indexes:
            assert tuple(index.document["key"].items()) in keys


def test_command_prints_every_index(mongo_db, capsys) -> None:
    call_command("ensure_indexes")
    printed = capsys.readouterr().out.split()
    assert "dash_department_acknowledged_at" in printed
    assert len(printed) == sum(len(indexes) for indexes in INDEXES.values())
