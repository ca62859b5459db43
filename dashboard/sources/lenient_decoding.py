"""Reading documents the watcher cannot refuse to read, whatever one of them holds.

By default pymongo raises `bson.errors.InvalidBSON` for a whole batch when one document in it
has a date outside Python's years 1-9999 or a string that is not UTF-8, so a single bad
document would fail every rebuild, drift check and escalation round, and every resume of a
change stream, for ever. Read leniently, such a date arrives as a `bson.DatetimeMS` and such
a string with U+FFFD in place of its bad bytes: neither is a valid value (contract §1), so the
document is counted or skipped as any other invalid one.
"""

from __future__ import annotations

from datetime import UTC

from bson.codec_options import CodecOptions, DatetimeConversion
from pymongo.database import Database


def lenient(db: Database) -> Database:
    """The same database (same client, read preference, write concern), decoding leniently.

    Dates stay aware UTC `datetime`s where they fit, `DatetimeMS` where they do not; invalid
    UTF-8 is replaced. Never raises.
    """
    return db.with_options(
        codec_options=CodecOptions(
            tz_aware=True,
            tzinfo=UTC,
            datetime_conversion=DatetimeConversion.DATETIME_AUTO,
            unicode_decode_error_handler="replace",
        )
    )
