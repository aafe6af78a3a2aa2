"""Files written whole: every file Brightline writes goes through this module.

A crash, a full disk or a read-only file system must never leave a file that a later run
cannot read. Files come in two shapes, each with one rule.

**Whole files** (a key, the enforcement client's bundle and decision log, an export, a
report): written under a temporary name next to the target (``.NAME.<random>.partial``),
forced to disk (``fsync``), renamed over the target, and the directory forced to disk.
Readers, and the next run after a crash, see the old file or the new one, never part of
one. :func:`write_file` writes bytes or text, :func:`writing` and :func:`writing_text` a
stream, :func:`write_new` a file that must not exist yet (a key), :func:`write_files` several
files with each directory forced to disk once, and :func:`writing_many` many files forced
to disk together (tiles, a site), before the one that refers to them.

**Record files** that only grow (the telemetry manifest, detection suppressions): JSON
Lines, one record a line, and a record exists once its newline does.
:func:`append_record` writes the line with one append under an exclusive lock and forces
it to disk; if the append fails, it cuts its own bytes off again. Whatever follows the
last newline is a *torn tail*, left by a crash or by a full disk whose clean-up failed too:
:func:`read_records` ignores it and the next :func:`append_record` cuts it off first. A
hand-edited record file must therefore end each line, the last included, with a newline.

Every failure to write raises :class:`~brightline.errors.StorageError`, one line naming
the target and the cause in the system's words ("No space left on device", "Read-only
file system", "Permission denied"); cleaning up after it never hides it, and the target is
left as it was. A ``.NAME.*.partial`` file is only left behind by a process that was
killed; :func:`remove_partials` clears a directory's, for an owner that knows no write is
in progress there.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

from brightline.errors import StorageError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

PARTIAL_SUFFIX: Final = ".partial"
_SCAN_BYTES: Final = 1 << 16
#: Errors of fsync on a directory that only say the file system does not do it.
_NO_DIRECTORY_SYNC: Final = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EBADF})


def cause(exc: OSError) -> str:
    """Why an operation failed, in the system's words and on one line.

    pyarrow raises ``OSError`` with the number right and the text its own
    ("Error writing bytes to file. Detail: …"), so the number wins when there is one.
    """
    if exc.errno:
        return os.strerror(exc.errno)
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def storage_error(path: Path, exc: OSError) -> StorageError:
    """``path`` could not be written, because of ``exc``."""
    return StorageError(path, cause(exc))


# -- whole files ---------------------------------------------------------------------------


class _PartialFile(io.FileIO):
    """A file under its temporary name: a failed write names the target, not the
    temporary, and is a :class:`StorageError` whatever library wrote it."""

    def __init__(self, fd: int, target: Path) -> None:
        super().__init__(fd, "wb", closefd=True)
        self.target = target

    def write(self, data: ReadableBuffer, /) -> int:
        try:
            return super().write(data)
        except OSError as exc:
            raise storage_error(self.target, exc) from exc


def _partial_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}{PARTIAL_SUFFIX}")


def _existing_mode(path: Path) -> int | None:
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return None


def _open_partial(path: Path, mode: int | None) -> tuple[Path, io.BufferedWriter]:
    partial = _partial_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(
            partial,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
            0o666 if mode is None else 0o600,
        )
    except OSError as exc:
        raise storage_error(path, exc) from exc
    try:
        # An exact mode whatever the umask; a replaced file keeps the mode it had.
        keep = mode if mode is not None else _existing_mode(path)
        if keep is not None:
            os.fchmod(fd, keep)
    except OSError as exc:
        os.close(fd)
        _remove_quietly(partial)
        raise storage_error(path, exc) from exc
    return partial, io.BufferedWriter(_PartialFile(fd, path))


def _remove_quietly(path: Path) -> None:
    """Clean-up after a failure: its own errors must not hide the failure's cause."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def _sync_directory(directory: Path) -> None:
    """Force a directory's entries (a rename, a new name) to disk."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise storage_error(directory, exc) from exc
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _NO_DIRECTORY_SYNC:
            raise storage_error(directory, exc) from exc
    finally:
        os.close(fd)


@contextlib.contextmanager
def _writing(
    path: Path, *, mode: int | None, sync: bool, sync_directory: bool | None = None
) -> Iterator[io.BufferedWriter]:
    """``sync`` forces the file to disk before it is renamed into place, and (unless
    ``sync_directory`` is False) the directory after."""
    partial, handle = _open_partial(path, mode)
    try:
        yield handle
        try:
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
            handle.close()
            os.replace(partial, path)
        except OSError as exc:
            raise storage_error(path, exc) from exc
        if sync if sync_directory is None else sync_directory:
            _sync_directory(path.parent)
    except BaseException:
        with contextlib.suppress(OSError, StorageError):
            handle.close()  # closes the file even when flushing what is left fails
        _remove_quietly(partial)
        raise


@contextlib.contextmanager
def writing(path: Path, *, mode: int | None = None) -> Iterator[io.BufferedWriter]:
    """Write ``path`` whole, as a binary stream: it is replaced when the block ends
    without an error, and left as it was otherwise.

    ``mode`` sets the new file's permissions exactly; without it a new file follows the
    umask and a replaced one keeps its mode. Any failure to write is a
    :class:`StorageError` naming ``path``.
    """
    with _writing(path, mode=mode, sync=True) as handle:
        yield handle


@contextlib.contextmanager
def writing_text(path: Path, *, mode: int | None = None) -> Iterator[io.TextIOWrapper]:
    """:func:`writing` for UTF-8 text, written exactly as given (no newline translation)."""
    with _writing(path, mode=mode, sync=True) as handle:
        # Closing the binary file (done by _writing, whatever happens) leaves the wrapper
        # nothing to do when it is collected.
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        yield text
        text.flush()


def write_file(path: Path, data: bytes | str, *, mode: int | None = None) -> Path:
    """Replace ``path`` whole with ``data`` (text is written as UTF-8); see :func:`writing`."""
    with writing(path, mode=mode) as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def write_files(contents: Iterable[tuple[Path, bytes | str]]) -> None:
    """Replace several files whole, in the order given, each as :func:`write_file` does
    but with each directory forced to disk once, after the last rename (a directory's
    ``fsync`` costs as much as a file's).

    Every file is forced to disk before it is renamed into place, so after a crash each
    is old or new, never part of one; once this returns, all are on disk. Which of the
    renames a crash keeps is up to the file system (journalled in order on ext4 and XFS,
    but POSIX does not say): use it for files any mix of whose old and new versions is
    safe to read. StorageError naming the file (or directory) that failed.
    """
    directories: dict[Path, None] = {}
    for path, data in contents:
        with _writing(path, mode=None, sync=True, sync_directory=False) as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        directories[path.parent] = None
    for directory in directories:
        _sync_directory(directory)


def write_new(path: Path, data: bytes | str, *, mode: int = 0o600) -> Path:
    """Write a file that must not exist yet (a key), whole and with exactly ``mode``.

    The content goes to a temporary file that is forced to disk and then hard-linked into
    place: ``link`` fails when the name exists, so an existing file is never replaced and
    never seen half-written. :class:`FileExistsError` when ``path`` exists (the caller
    says what that means); :class:`StorageError` for any failure to write.
    """
    partial, handle = _open_partial(path, mode)
    try:
        try:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            os.link(partial, path)
        except FileExistsError:
            raise
        except OSError as exc:
            raise storage_error(path, exc) from exc
    finally:
        with contextlib.suppress(OSError, StorageError):
            handle.close()
        _remove_quietly(partial)
    _sync_directory(path.parent)
    return path


def force_to_disk(paths: Iterable[Path]) -> None:
    """Force files already written and renamed into place (by pyarrow, or by
    :func:`writing_many`) to disk, with the directories that hold them."""
    directories: dict[Path, None] = {}
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise storage_error(path, exc) from exc
        directories[path.parent] = None
    for directory in directories:
        _sync_directory(directory)


class Batch:
    """Files written whole, one by one, and forced to disk together when the batch ends."""

    def __init__(self) -> None:
        self._written: dict[Path, None] = {}

    def write(self, path: Path, data: bytes | str) -> Path:
        """Replace ``path`` whole; it is on disk once the batch has ended."""
        with _writing(path, mode=None, sync=False) as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        self._written[path] = None
        return path

    def end(self) -> None:
        force_to_disk(self._written)
        self._written.clear()


@contextlib.contextmanager
def writing_many() -> Iterator[Batch]:
    """Many whole files, forced to disk once at the end (one ``fsync`` each after all are
    written costs far less than one as each is written). Write the file that refers to
    them (a checkpoint, an index) after the block, with :func:`write_file`: it is never
    on disk before they are."""
    batch = Batch()
    yield batch
    batch.end()


def remove_partials(directory: Path) -> None:
    """Remove the temporary files that killed writers left in ``directory`` (not below
    it). Only for a directory's owner, when no write is in progress there."""
    with contextlib.suppress(OSError):
        for leftover in directory.glob(f".*{PARTIAL_SUFFIX}"):
            _remove_quietly(leftover)


@contextlib.contextmanager
def exclusive(directory: Path) -> Iterator[None]:
    """Hold ``directory`` for one writer at a time (an advisory lock; other holders wait).

    The lock is on the directory itself, so it needs no file of its own and works on a
    read-only file system, where the first write then fails with its real cause.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise storage_error(directory, exc) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


# -- record files --------------------------------------------------------------------------


def _end_of_last_record(fd: int, size: int) -> int:
    """The length of the file up to and including its last newline."""
    end = size
    while end > 0:
        start = max(0, end - _SCAN_BYTES)
        chunk = os.pread(fd, end - start, start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        # A full disk can take part of the data: write() then returns less, and the next
        # call says why.
        view = view[os.write(fd, view) :]


def append_record(path: Path, record: str) -> None:
    """Append one record (a line of text without its newline) to ``path``, on disk when
    this returns.

    Under an exclusive lock: a torn tail left by an earlier failure is cut off first, the
    line and its newline are written with one append and forced to disk. If that fails,
    the bytes it wrote are cut off again and :class:`StorageError` names ``path``: the
    file holds exactly the records it held.
    """
    if "\n" in record or "\r" in record:
        raise ValueError("a record is one line")
    data = record.encode("utf-8") + b"\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise storage_error(path, exc) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        whole = _end_of_last_record(fd, size)
        if whole < size:
            os.ftruncate(fd, whole)  # a torn tail: never a record, and in the way
        try:
            _write_all(fd, data)
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, whole)  # shrinking needs no space, even on a full disk
            raise
    except OSError as exc:
        raise storage_error(path, exc) from exc
    finally:
        os.close(fd)  # releases the lock
    if whole == 0:
        _sync_directory(path.parent)  # a new file: its name must reach the disk too


def read_records(path: Path) -> list[bytes]:
    """The complete lines of a record file, without their newlines (blank ones included,
    so that a line's number is its index plus one); a torn tail is left out and a missing
    file has none. :class:`StorageError` when the file cannot be read."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StorageError(path, cause(exc), verb="read") from exc
    return data[: data.rfind(b"\n") + 1].split(b"\n")[:-1]
