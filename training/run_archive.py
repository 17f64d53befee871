"""A run folder as bytes and back: how a run folder travels between a sweep's machine and a Ray worker.

::

    data = pack(run_dir)                    # an uncompressed tar of the folder's plain files
    install(data, sweep_dir / "01-depth-3-r1")   # the whole folder replaced at once

``install`` unpacks into a staging folder on the same file system (``DIR/.incoming/``, which holds
no ``config.json`` at its top, so run listings skip it), then swaps it in by two renames; the
previous copy is kept under ``DIR/.incoming/`` until the new one is in place. A crash between the
two renames leaves the previous copy there, and ``recover(DIR)`` puts it back: a reader never sees
half a run folder. Unpacking refuses links, devices and paths outside the folder (tarfile's
``data`` filter) and anything but plain files and folders.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import uuid
from pathlib import Path

from graph.errors import UserError

STAGING = ".incoming"


def pack(run_dir: str | Path) -> bytes:
    """The folder's plain files (sub-folders included, links and temporary files left out) as a tar."""
    run = Path(run_dir)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in sorted(run.rglob("*")):
            if path.is_symlink() or not path.is_file() or path.name.endswith(".tmp"):
                continue
            tar.add(path, arcname=path.relative_to(run).as_posix(), recursive=False)
    return buf.getvalue()


def unpack(data: bytes, dest: str | Path) -> Path:
    """Unpack ``pack``'s bytes into the new folder ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=False)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            members = tar.getmembers()
            bad = [
                m.name
                for m in members
                if not (m.isfile() or m.isdir()) or m.name.startswith("/") or ".." in Path(m.name).parts
            ]
            if bad:
                raise UserError(
                    f"a run folder from a Ray worker holds {bad[0]!r}, which is not a plain file in it"
                )
            if hasattr(tarfile, "data_filter"):  # Python 3.10.12+, 3.11.4+
                tar.extractall(dest, members=members, filter="data")
            else:
                tar.extractall(dest, members=members)  # members checked above
    except (tarfile.TarError, OSError) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise UserError(f"a run folder from a Ray worker could not be unpacked ({exc})") from None
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return dest


def install(data: bytes, run_dir: str | Path) -> Path:
    """Replace the folder ``run_dir`` with ``pack``'s bytes, all at once (see the module doc)."""
    run = Path(run_dir)
    staging = run.parent / STAGING
    staging.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    new = unpack(data, staging / f"{run.name}.new-{token}")
    old = staging / f"{run.name}.old-{token}"
    try:
        if run.exists():
            os.replace(run, old)
        os.replace(new, run)
    except BaseException:
        if old.exists() and not run.exists():
            os.replace(old, run)
        shutil.rmtree(new, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    _remove_if_empty(staging)
    return run


def recover(sweep_dir: str | Path) -> list[str]:
    """After a crash inside ``install``: previous copies whose folder is missing go back; unfinished
    new copies are removed. Returns the names restored."""
    staging = Path(sweep_dir) / STAGING
    if not staging.is_dir():
        return []
    restored = []
    for p in sorted(staging.iterdir()):
        name, sep, _token = p.name.rpartition(".old-")
        target = Path(sweep_dir) / name
        if sep and p.is_dir() and not target.exists():
            os.replace(p, target)
            restored.append(name)
        elif p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
    _remove_if_empty(staging)
    return restored


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


__all__ = ["STAGING", "install", "pack", "recover", "unpack"]
