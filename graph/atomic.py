"""Atomic writes for every file written for a user (no Qt, no torch: graph/, codegen/, training/ use it).

``atomic_write(path, write, check)`` makes a temporary file beside the target (same folder, so the
rename is atomic), lets ``write(tmp)`` fill it, runs ``check(tmp)`` if given, flushes it to disk and
only then renames it over the target. If anything fails or is interrupted (an exception, Ctrl-C) the
temporary file is removed and the previous file, if there was one, is left untouched.

A symlink target is followed: the file it points to is replaced and the link kept. The file keeps
the mode of the file it replaces; a new file gets the umask's default (``executable`` adds x bits).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

from graph.errors import UserError


def atomic_write(
    path: str | os.PathLike,
    write: Callable[[str], None],
    check: Callable[[str], None] | None = None,
    *,
    executable: bool = False,
    exit_code: int = 2,
) -> None:
    """Fill a temporary file beside ``path`` with ``write(tmp)``, ``check(tmp)`` it, then rename it
    into place. An OSError while writing becomes a UserError naming ``path``; every other exception
    (a UserError from ``check`` included) passes through. Either way no temporary file is left."""
    shown = os.fspath(path)
    target = os.path.realpath(shown)
    folder = os.path.dirname(target)
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(target) + ".", suffix=".tmp")
    except OSError as exc:
        raise UserError(f"{shown}: cannot write there ({exc.strerror or exc})", exit_code) from None
    os.close(fd)
    try:
        write(tmp)
        if check is not None:
            check(tmp)
        _fsync(tmp)
        os.chmod(tmp, _mode_for(target, executable))
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise UserError(f"{shown}: cannot write the file ({exc.strerror or exc})", exit_code) from None
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes, *, exit_code: int = 2) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    atomic_write(path, write, exit_code=exit_code)


def write_text_atomic(
    path: str | os.PathLike, text: str, *, executable: bool = False, exit_code: int = 2
) -> None:
    """UTF-8, ``\\n`` line endings."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)

    atomic_write(path, write, executable=executable, exit_code=exit_code)


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mode_for(target: str, executable: bool) -> int:
    try:
        mode = os.stat(target).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    if executable:
        mode |= (mode & 0o444) >> 2  # x wherever r
    return mode


__all__ = ["atomic_write", "write_bytes_atomic", "write_text_atomic"]
