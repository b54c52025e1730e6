"""The enums of the pstor API. Each is an ``enum.StrEnum``: its members are
``str`` values (``PoolKind.VIDEO == "video"``), so plain strings are accepted
wherever a member is (any case), and results print and serialize as strings."""

from __future__ import annotations

import enum


class PoolKind(enum.StrEnum):
    """What a resource pool stores."""

    VIDEO = "video"
    """Video recordings only."""
    PICTURE = "picture"
    """Pictures only."""
    MIXED = "mixed"
    """Both."""


class OverwriteStrategy(enum.StrEnum):
    """What a full pool does (manual 3.5.2)."""

    OVERWRITE_OLDEST = "overwrite_oldest"
    """Recycle the oldest unlocked data to make room."""
    STOP_WHEN_FULL = "stop_when_full"
    """Refuse writes with ``PoolFull``."""


class StreamKind(enum.StrEnum):
    """Main or sub stream of a camera channel."""

    MAIN = "main"
    SUB = "sub"


class SpaceStatus(enum.StrEnum):
    """Status of a storage space (manual 3.5.1)."""

    UNINITIALIZED = "uninitialized"
    INITIALIZING = "initializing"
    NORMAL = "normal"
    SCANNING = "scanning"
    RESTORING = "restoring"
    LOST = "lost"
    ERROR = "error"


class PoolStatus(enum.StrEnum):
    """Status of a resource pool."""

    NORMAL = "normal"
    DEGRADED = "degraded"
    OFFLINE = "offline"


class EventKind(enum.StrEnum):
    """What an ``Event`` reports; its ``details`` keys are listed per kind."""

    SPACE_STATUS = "space_status"
    """A space changed status: space, status, detail."""
    POOL_STATUS = "pool_status"
    """A pool changed status: pool, status."""
    LOW_SPACE = "low_space"
    """A pool's free space fell below the alarm threshold: pool, free_pct."""
    LOW_VOLUME_SPACE = "low_volume_space"
    """A volume's free space fell below its threshold: space, free_pct."""
    POOL_FULL = "pool_full"
    """A pool refused writes: pool, reason."""
    RECORDING_ERROR = "recording_error"
    """Writing a stream failed: stream, message."""
    RECYCLED = "recycled"
    """A segment's data was recycled: pool, stream, until, retention."""
    LOCK_EXPIRED = "lock_expired"
    """A lock reached its expiry: lock."""
    TAIL_TRUNCATED = "tail_truncated"
    """Recovery truncated a torn tail: space, segment, detail."""
    KEY_INDEX_REBUILT = "key_index_rebuilt"
    """The picture key index was rebuilt: reason."""
    CAMERA_STATUS = "camera_status"
    """A recorded camera's recording state changed (the server's recorder;
    remote mode): schedule, camera, from, to, reason."""
