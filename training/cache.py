"""The download cache: where it is, one lock per entry, free-space checks.

Layout (docs/training.md)::

    $SKIPWIRE_CACHE            (else $XDG_CACHE_HOME/skipwire, else ~/.cache/skipwire)
      datasets/NAME/           a dataset, complete (it only ever appears by an atomic rename)
      datasets/NAME.lock       held while NAME is being fetched
      datasets/.NAME.partial-PID-N/   a fetch in progress (a killed one is removed by the next)
      weights/FILE.pth         torchvision's file, hash checked
      weights/FILE.pth.lock

An entry that exists is complete: nothing is ever written under its final name.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from graph.errors import UserError

LOCK_POLL_S = 0.1


def cache_root() -> Path:
    """``$SKIPWIRE_CACHE``, else ``$XDG_CACHE_HOME/skipwire``, else ``~/.cache/skipwire``."""
    env = os.environ.get("SKIPWIRE_CACHE", "").strip()
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg:
        return Path(xdg).expanduser() / "skipwire"
    return Path.home() / ".cache" / "skipwire"


def datasets_dir() -> Path:
    return cache_root() / "datasets"


def weights_dir() -> Path:
    return cache_root() / "weights"


def ensure_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot create the cache folder {path}: {exc.strerror or exc}; set SKIPWIRE_CACHE to a "
            f"writable folder"
        ) from None
    return path


def tree_size(path: Path) -> int:
    """Bytes in the files under ``path`` (0 if it does not exist)."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def check_free_space(folder: Path, needed: int, what: str) -> None:
    """Refuse before downloading when the disk under ``folder`` has less than ``needed`` bytes free."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < needed:
        raise UserError(
            f"not enough disk space for {what}: {needed / 2**20:,.0f} MB needed, {free / 2**20:,.0f} MB free "
            f"in {folder}; free some space or set SKIPWIRE_CACHE to another disk"
        )


def remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


class CacheLock:
    """An exclusive lock on one cache entry (a ``.lock`` file beside it), across processes.

    ``on_wait`` is called once if another process holds it; ``should_cancel`` is polled while
    waiting. The lock is released when the holder exits, even if it is killed (flock/msvcrt)."""

    def __init__(
        self,
        path: Path,
        on_wait: Callable[[], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> None:
        self.path = Path(path)
        self.on_wait = on_wait
        self.should_cancel = should_cancel
        self._fd: int | None = None

    def __enter__(self):
        ensure_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        waited = False
        while True:
            if _try_lock(fd):
                break
            if not waited and self.on_wait is not None:
                self.on_wait()
            waited = True
            if self.should_cancel is not None and self.should_cancel():
                os.close(fd)
                raise DownloadCancelled("cancelled while waiting for another download of the same file")
            time.sleep(LOCK_POLL_S)
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            _unlock(self._fd)
            os.close(self._fd)
            self._fd = None


class DownloadCancelled(UserError):
    def __init__(self, message: str = "download cancelled") -> None:
        super().__init__(message, 130)


try:  # POSIX
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

except ImportError:  # pragma: no cover - Windows
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
