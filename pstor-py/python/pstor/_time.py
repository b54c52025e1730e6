"""Timestamps: pstor counts microseconds since the Unix epoch, UTC (ints)."""

from __future__ import annotations

import datetime as _dt

EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_ONE_US = _dt.timedelta(microseconds=1)


def to_us(value: int | _dt.datetime) -> int:
    """Microseconds since the epoch of an int (returned as is) or of a
    timezone-aware ``datetime`` (a naive one is refused: its zone is unknown)."""
    if isinstance(value, bool):
        raise TypeError("a timestamp is an int of microseconds or an aware datetime, not bool")
    if isinstance(value, int):
        return value
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime: give it a tzinfo (e.g. datetime.timezone.utc)")
        return (value - EPOCH) // _ONE_US
    raise TypeError(
        f"a timestamp is an int of microseconds since the epoch (UTC) or an aware datetime, not {type(value).__name__}"
    )


def from_us(us: int) -> _dt.datetime:
    """The aware UTC ``datetime`` of a pstor timestamp."""
    return EPOCH + _dt.timedelta(microseconds=us)


def now_us() -> int:
    """The current time as a pstor timestamp."""
    return to_us(_dt.datetime.now(_dt.timezone.utc))
