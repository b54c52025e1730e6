"""The pstor exceptions, keyed by the stable error numbers of
``docs/error-codes.md`` (shared by the C API and the SDK protocol).

Every exception is a ``pstor.Error`` with ``.code`` (the number) and
``.code_name`` (the C constant, e.g. ``"PSTOR_POOL_FULL"``). Each number has
its own class, grouped under a few bases so callers can catch a family::

    Error
    ├── InvalidArgument (also ValueError)   bad input: ids, sizes, order, names
    ├── NotFound (also LookupError)         no such space/pool/stream/picture/key/lock/path
    ├── AlreadyExists                       space known or initialized, name or stream taken
    ├── CapacityError                       PoolFull, LockQuotaExceeded, too little room
    ├── StateError                          Closed, in use, wrong status, needs confirmation
    ├── StorageError                        IoError, Corrupt, lost or failed spaces
    ├── NetworkError                        remote mode: the server or the connection to it
    ├── Unsupported (also NotImplementedError)  not available in this mode (embedded or remote)
    └── InternalError                       a bug in pstor (a caught panic, PSTOR_UNKNOWN)

A number this version does not know (a newer server's) raises ``Error``
itself, with ``.code`` that number (kept as the server sent it) and
``.code_name`` ``"PSTOR_UNKNOWN"``: the base class, since this version
cannot know which group the number belongs to.

Remote mode raises the same classes as the embedded engine (a server's
refusal carries the engine's number); only ``NetworkError``'s classes are new
there. ``NetworkError`` is deliberately not a built-in ``ConnectionError``,
and ``pstor.Timeout`` not a built-in ``TimeoutError``: those are ``OSError``s,
whose constructor reads its arguments as ``(errno, strerror, filename)``,
which would garble ``str(e)`` and ``.code`` (the reason ``IoError`` is not an
``OSError`` either). So ``except TimeoutError`` does not catch
``pstor.Timeout``; the built-in ``TimeoutError`` is what a local wait with a
``timeout`` raises (``SpaceJob.wait``: the job goes on), while
``pstor.Timeout`` (705) means the server did not answer in time and the
outcome of the request is unknown.
"""

from __future__ import annotations


class Error(Exception):
    """Base of every pstor error: ``.code`` is the stable number,
    ``.code_name`` its C name, ``str(e)`` the engine's message."""

    code: int = 99
    code_name: str = "PSTOR_UNKNOWN"

    def __init__(self, message: str = "", code: int | None = None, code_name: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        if code_name is not None:
            self.code_name = code_name

    def __reduce__(self):  # keeps .code through pickling (multiprocessing)
        return (type(self), (str(self), self.code, self.code_name))


# ---- the groups -------------------------------------------------------------


class InvalidArgument(Error, ValueError):
    """An argument is out of range or malformed (PSTOR_INVALID_ARGUMENT and
    the specific kinds below)."""

    code, code_name = 900, "PSTOR_INVALID_ARGUMENT"


class NotFound(Error, LookupError):
    """Something named by id, key or path does not exist."""


class AlreadyExists(Error):
    """Something with that identity exists already."""


class CapacityError(Error):
    """Not enough room: a full pool, a lock quota, a volume or the pool limit."""


class StateError(Error):
    """The engine, a space or a pool is not in a state that allows this."""


class StorageError(Error):
    """The disk misbehaved: an I/O error, corrupt bytes, a lost or failed space."""


class NetworkError(Error):
    """Remote mode: the SDK protocol, the connection or the server failed
    (codes 700-706). After ``Timeout`` or ``Disconnected`` the outcome of the
    call is unknown: only what a ``sync`` acknowledged is durable."""


class InternalError(Error):
    """A bug in pstor (a caught panic), or an error without a number (99)."""


# ---- one class per number ------------------------------------------------------

# (number, class name, base, docstring)
_TABLE: list[tuple[int, str, type[Error], str]] = [
    (1, "NullParameter", InvalidArgument, "A required argument was missing."),
    (2, "PanicError", InternalError, "A panic was caught in a background job or at the binding's boundary (please report it)."),
    (3, "BufferTooSmall", InvalidArgument, "A caller's buffer is too small for the output."),
    (4, "InvalidUtf8", InvalidArgument, "A string argument is not valid UTF-8."),
    (99, "UnknownError", InternalError, "An error this version has no number for."),
    (100, "IoError", StorageError, "An I/O call failed."),
    (101, "Corrupt", StorageError, "Bytes on disk are not what they should be (checksum, magic, bounds)."),
    (102, "Overwritten", StateError, "The data asked for was recycled (overwritten) while being read."),
    (200, "PathNotFound", NotFound, "A storage space path does not exist."),
    (201, "NotADirectory", InvalidArgument, "A storage space path is not a directory."),
    (202, "AlreadyInitialized", AlreadyExists, "The folder is already a storage space (restore it instead)."),
    (203, "NotASpace", InvalidArgument, "The folder holds no storage space."),
    (204, "CapacityTooSmall", InvalidArgument, "The capacity is below the minimum."),
    (205, "InsufficientVolumeSpace", CapacityError, "The volume lacks the free space asked for."),
    (206, "BadSegmentSize", InvalidArgument, "The segment size is unusable."),
    (207, "Cancelled", StateError, "A space initialization was cancelled."),
    (208, "SpaceNotFound", NotFound, "No storage space with that id."),
    (209, "SpaceAlreadyKnown", AlreadyExists, "The storage space is already attached to this engine."),
    (210, "SpaceLost", StorageError, "The storage space is lost (its folder vanished or is unreadable)."),
    (211, "SpaceFailed", StorageError, "The storage space failed (an earlier I/O error)."),
    (212, "SpaceStatusError", StateError, "The storage space's status does not allow this."),
    (213, "ConfirmationRequired", StateError, "A destructive operation needs its explicit confirmation."),
    (214, "InUse", StateError, "The folder is in use by another pstor engine."),
    (215, "EngineCopied", StateError, "The data folder is a copy of another pstor engine's."),
    (300, "TooManyPools", CapacityError, "At most 20 resource pools may exist."),
    (301, "DuplicatePoolName", AlreadyExists, "A resource pool with that name exists."),
    (302, "PoolNotFound", NotFound, "No resource pool with that id."),
    (303, "CapacityExceedsFree", CapacityError, "The capacity exceeds what the spaces have unreserved."),
    (304, "ShrinkBelowUsed", CapacityError, "A pool cannot shrink below what it uses."),
    (305, "PoolHasLocks", StateError, "The resource pool still holds locked data."),
    (306, "PoolFull", CapacityError, "The resource pool refuses the write (stop-when-full, only locked data left, or every segment held open by its streams)."),
    (307, "WrongPoolKind", InvalidArgument, "The resource pool is of the wrong kind (video vs picture)."),
    (400, "StreamNotFound", NotFound, "No stream with that id."),
    (401, "StreamExists", AlreadyExists, "The camera, channel and kind are already registered."),
    (402, "OutOfOrder", InvalidArgument, "A frame's timestamp is before the stream's last one."),
    (403, "DuplicateTimestamp", InvalidArgument, "A frame's timestamp equals the stream's last one."),
    (404, "FrameSize", InvalidArgument, "A frame is empty or too large."),
    (500, "InvalidPictureId", InvalidArgument, "A picture id is not well formed."),
    (501, "PictureNotFound", NotFound, "No such picture: never stored, deleted, or overwritten."),
    (502, "KeyNotFound", NotFound, "No picture under that bucket and key."),
    (503, "PictureSize", InvalidArgument, "A picture is empty or too large."),
    (504, "KeyIndexError", StorageError, "The picture key index could not be read or written."),
    (600, "LockNotFound", NotFound, "No lock with that id (or it lapsed)."),
    (601, "LockQuotaExceeded", CapacityError, "The lock would exceed the pool's max-lock percentage."),
    (700, "ProtocolError", NetworkError, "The SDK protocol was broken (bad magic, version, checksum or body)."),
    (701, "AuthFailed", NetworkError, "Authentication failed: unknown access key, or wrong secret key."),
    (702, "UnknownRequest", NetworkError, "The server does not know the request, or does not serve it on this port."),
    (703, "FrameTooLarge", NetworkError, "A protocol frame is larger than the peer accepts."),
    (704, "Busy", NetworkError, "The server is at its connection limit or shutting down; try again later."),
    (
        705,
        "Timeout",
        NetworkError,
        "The server did not answer in time; the outcome is unknown. Not the built-in TimeoutError.",
    ),
    (706, "Disconnected", NetworkError, "Not connected, or the connection was lost; the outcome is unknown."),
    (
        708,
        "ServerRestarted",
        NetworkError,
        "The server restarted since writes no sync acknowledged were sent to it: they may be lost (reported once).",
    ),
    (901, "Closed", StateError, "The engine is closed."),
]

class Unsupported(Error, NotImplementedError):
    """The operation is not available in this mode (embedded or remote).
    Its own group: it is not a network failure, and no retry helps."""

    code, code_name = 707, "PSTOR_UNSUPPORTED"


_BY_CODE: dict[int, type[Error]] = {900: InvalidArgument, 707: Unsupported}
_CLASSES: dict[str, type[Error]] = {}

for _code, _name, _base, _doc in _TABLE:
    _cls = type(_name, (_base,), {"__doc__": _doc, "__module__": "pstor", "code": _code})
    _BY_CODE[_code] = _cls
    _CLASSES[_name] = _cls
    globals()[_name] = _cls

_GROUPS = (
    Error,
    InvalidArgument,
    NotFound,
    AlreadyExists,
    CapacityError,
    StateError,
    StorageError,
    NetworkError,
    Unsupported,
    InternalError,
)
for _c in _GROUPS:
    _c.__module__ = "pstor"



def _class_for_code(code: int) -> type[Error]:
    """The exception class of a stable error number; a number this version
    does not know (say, from a newer server) gets ``Error`` itself."""
    return _BY_CODE.get(code, Error)


def error_class(code: int) -> type[Error]:
    """The exception class raised for the stable error number ``code``."""
    if code == 0:
        raise ValueError("0 is PSTOR_OK: success, not an error")
    return _class_for_code(code)


__all__ = [
    "Error",
    "InvalidArgument",
    "NotFound",
    "AlreadyExists",
    "CapacityError",
    "StateError",
    "StorageError",
    "NetworkError",
    "Unsupported",
    "InternalError",
    "error_class",
    *_CLASSES,
]
