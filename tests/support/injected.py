"""A hospital database whose answers carry values the embedded MongoDB refuses to store.

nx-27017 refuses NaN, ±Infinity and every Decimal128 on insert, and breaks the connection on
a date outside years 1-9999 (docs/MONGODB_COMPATIBILITY.md, "Values injected in tests"). A
test stores the marker string `marker(n)` in their place; `Injecting` passes every query to
the real server and, in what `find` returns, puts `values[n]` back where the marker was. Only
`find` answers are rewritten: an aggregation never hands a document to Python.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from pymongo.collection import Collection
from pymongo.database import Database

_PREFIX = "injected:"


def marker(index: int) -> str:
    return f"{_PREFIX}{index}"


class _InjectingCollection:
    def __init__(self, collection: Collection, values: Sequence[Any]) -> None:
        self._collection = collection
        self._values = values

    def _restored(self, doc: dict[str, Any]) -> dict[str, Any]:
        return {
            key: (
                self._values[int(value[len(_PREFIX) :])]
                if isinstance(value, str) and value.startswith(_PREFIX)
                else value
            )
            for key, value in doc.items()
        }

    def find(self, *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        return (self._restored(doc) for doc in self._collection.find(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)


class Injecting:
    """`db` with the injected `values` in place of their markers in `find` answers."""

    def __init__(self, db: Database, values: Sequence[Any]) -> None:
        self._db = db
        self._values = values

    def __getitem__(self, name: str) -> _InjectingCollection:
        return _InjectingCollection(self._db[name], self._values)

    def __getattr__(self, name: str) -> _InjectingCollection:
        return self[name]
