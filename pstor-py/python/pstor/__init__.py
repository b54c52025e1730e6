"""pstor: the storage engine for video surveillance, in Python: embedded, or
as a client of a pstor-server.

pstor turns folders on local disks, RAID/iSCSI volumes and NAS mounts into
*storage spaces*, groups them into *resource pools* (overwrite strategy,
retention cycle, lock quota), records camera *streams* (opaque frames with a
timestamp and a key-frame flag) and *pictures* into them, protects evidence
with *locks*, and tells which hours of which camera are missing (*video
inspection*).

    import pstor
    with pstor.Engine("/var/lib/pstor") as engine:
        space = engine.initialize_space("/data/disk1/pstor", 2 << 40).wait()
        pool = engine.create_pool("video", capacity=1 << 40, spaces=[space])
        cam = engine.register_stream(pool, "101926818001")
        engine.append(cam, ts_us, True, frame_bytes)
        engine.sync(cam)
        for frame in engine.read(cam, start_us, end_us):
            ...

    # The same Engine, on a pstor-server (SDK ports 6036/6037):
    with pstor.connect("nvr-storage.local", access_key, secret_key) as engine:
        ...

Timestamps are ints of microseconds since the Unix epoch, UTC (``to_us`` and
``from_us`` convert aware datetimes). Enums are ``enum.StrEnum``s, and plain
strings work too. Errors raise ``pstor.Error`` subclasses carrying the
stable ``code``. Calls that touch the disk release the GIL. See README.md.
"""

from __future__ import annotations

from . import _errors
from ._enums import EventKind, OverwriteStrategy, PoolKind, PoolStatus, SpaceStatus, StreamKind
from ._errors import *  # noqa: F403 - the exception classes, one per error number
from ._errors import error_class
from ._pstor import (
    DEFAULT_MIN_SPACE_CAPACITY,
    MAX_POOLS,
    PICTURE_ID_CHARS,
    CheckReport,
    DayInspection,
    DaySummary,
    Engine,
    Event,
    EventSubscription,
    Frame,
    FrameReader,
    HourInspection,
    LockInfo,
    Picture,
    PictureId,
    PictureInfo,
    PoolInfo,
    Problem,
    SpaceInfo,
    SpaceJob,
    StreamInfo,
    Thresholds,
    __version__,
    connect,
    error_codes,
)
from ._time import from_us, now_us, to_us

__all__ = [
    "Engine",
    "connect",
    "SpaceJob",
    "FrameReader",
    "EventSubscription",
    "Frame",
    "SpaceInfo",
    "PoolInfo",
    "StreamInfo",
    "LockInfo",
    "HourInspection",
    "DayInspection",
    "DaySummary",
    "Thresholds",
    "Problem",
    "CheckReport",
    "PictureId",
    "PictureInfo",
    "Picture",
    "Event",
    "PoolKind",
    "OverwriteStrategy",
    "StreamKind",
    "SpaceStatus",
    "PoolStatus",
    "EventKind",
    "error_class",
    "error_codes",
    "to_us",
    "from_us",
    "now_us",
    "MAX_POOLS",
    "DEFAULT_MIN_SPACE_CAPACITY",
    "PICTURE_ID_CHARS",
    "__version__",
    *_errors.__all__,
]
