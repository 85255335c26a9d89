"""Where Deployscope keeps the user's things, and how it writes files without ever leaving a
half-written one behind."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Callable

from .errors import DeployscopeError


def data_dir() -> Path:
    """The user data directory: ``$XDG_DATA_HOME/deployscope`` (default ``~/.local/share/deployscope``).

    It holds the user catalog (``catalog/``), calibration profiles (``calibrations/``) and the
    default SQLite store (``deployscope.db``).
    """
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "deployscope"


def rewrite_text(path: str | os.PathLike[str], edit: Callable[[str], str], *, field: str = "file") -> Path:
    """Replace a UTF-8 text file's content by ``edit(content)``, line endings kept as they are: the
    new text is built before the file is touched and written through write_atomic, so a failing
    edit leaves the file as it was. A file that cannot be read becomes a DeployscopeError naming
    `field` and the path; what `edit` raises passes through."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise DeployscopeError(f"cannot read {str(path)!r}: {why}", field=field, value=str(path)) from None
    return write_atomic(path, edit(text), field=field)


def write_atomic(path: str | os.PathLike[str], data: bytes | str, *, field: str = "file") -> Path:
    """Write `data` to `path` through a temporary sibling renamed into place.

    A crash or an error never leaves a half-written file. The file gets the mode a plain
    ``open()`` would give it: an existing file keeps its mode, a new one follows the user's umask
    (temporary files are private, so the mode is set before the rename). An existing target that is not a
    regular file (``/dev/stdout``, a FIFO) is written in place: renaming over a device would
    destroy it. Problems become a DeployscopeError naming `field` and the path.
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    folder = check_file_name(path, field=field)
    try:
        if path.exists() and not stat.S_ISREG(path.stat().st_mode):
            with open(path, "wb") as fh:
                fh.write(data)
            return path
        mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o666 & ~_umask()
        # the temporary name stays short, so any name the file system takes also works here
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".tmp", dir=folder)
    except OSError as exc:  # read-only folder, name too long, permission...
        raise DeployscopeError(f"cannot write {str(path)!r}: {exc.strerror}", field=field, value=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise DeployscopeError(f"cannot write {str(path)!r}: {exc.strerror}", field=field, value=str(path)) from None
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return path


def check_file_name(path: str | os.PathLike[str], *, field: str = "file") -> Path:
    """Check, before any work is done, that `path` names a file that could be created: its
    folder exists and its name fits the file system. Returns the folder."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX") if folder.is_dir() else 255
    except (OSError, ValueError):
        limit = 255
    size = len(os.fsencode(path.name))
    if size > limit:
        raise DeployscopeError(
            f"the file name is {size} bytes long; this file system allows at most {limit}: choose a shorter name",
            field=field, value=str(path)[:80] + "…",
        )
    try:
        if path.is_dir() or not path.name:
            raise DeployscopeError(f"{str(path)!r} is a folder, not a file", field=field, value=str(path))
        if not folder.is_dir():
            raise DeployscopeError(f"folder {str(folder)!r} does not exist", field=field, value=str(path))
    except OSError as exc:  # a path component too long, a loop of links...
        raise DeployscopeError(f"cannot write {str(path)!r}: {exc.strerror}", field=field, value=str(path)) from None
    return folder


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (threads may be writing)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
