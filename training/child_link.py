"""The two pipes between the editor (or a sweep) and a child process, with no shared waiters.

A child process talks to its parent through two plain OS pipes and nothing else:

- **records** (child -> parent): frames of a 4-byte big-endian length and a UTF-8 JSON object.
  The child writes them from a feeder thread (``RecordWriter``), so training never waits on the
  pipe; the parent reads them with non-blocking ``os.read`` (``RecordReader``), keeps a partial
  frame until the rest arrives, and sees end-of-file once every copy of the write end is closed
  (the child exited, crashed or was killed).
- **control** (parent -> child, the child's stdin): one byte ``b"s"`` asks the child to stop. The
  parent writes it with a non-blocking ``os.write`` (a pipe holds 64 KiB; a stop is one byte, and
  a full or closed pipe is ignored). The child reads it in a watcher thread (``ControlWatcher``);
  end-of-file there means the parent is gone (exited, crashed, killed), and the child stops too.

Why this cannot deadlock (docs/processes.md says it for every child): no lock, semaphore,
condition or event is shared between the two processes, so no process can wait on a counter that
a dead peer left behind (the bug of ``multiprocessing.Event``: a child that exits inside
``event.wait()`` leaves a sleeper counted, and the parent's next ``set()`` waits forever). Each
side owns its own end of each pipe; the parent's calls never block; the child blocks only in its
own threads, and a dead parent turns every such wait into end-of-file or ``EPIPE``.
"""

from __future__ import annotations

import collections
import json
import os
import struct
import threading
import time
from pathlib import Path
from typing import Any

_HEADER = struct.Struct(">I")
STOP_BYTE = b"s"
# test hooks: hold the child just before it sends a final record (see RecordWriter.put), or, with
# SKIPWIRE_TEST_HOLD_KIND=epoch, its first record of that kind; "{run}" in the path is the run folder's name
HOLD_FINAL_ENV = "SKIPWIRE_TEST_HOLD_FINAL"
HOLD_KIND_ENV = "SKIPWIRE_TEST_HOLD_KIND"


def _jsonable(obj: Any) -> Any:
    """numpy / torch scalars and arrays that slip into a record become plain numbers and lists."""
    for attr in ("item", "tolist"):
        fn = getattr(obj, attr, None)
        if callable(fn):
            try:
                return fn()
            except (TypeError, ValueError):
                continue
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)


def encode(rec: dict) -> bytes:
    body = json.dumps(rec, default=_jsonable, separators=(",", ":")).encode("utf-8")
    return _HEADER.pack(len(body)) + body


# ----------------------------------------------------------------------------------- parent side
class RecordReader:
    """Reads frames from the parent's end of the records pipe; ``read`` never blocks."""

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self.eof = False  # every write end is closed: nothing more will ever arrive
        self._buf = bytearray()
        self._ready: collections.deque[dict] = collections.deque()

    def read(self, max_items: int) -> list[dict]:
        out: list[dict] = []
        while len(out) < max_items:
            if self._ready:
                out.append(self._ready.popleft())
                continue
            if self.eof or not self._fill():
                break
        return out

    def _fill(self) -> bool:
        """Read what the pipe holds now; True if at least one whole frame became ready."""
        try:
            chunk = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return False
        except OSError:  # the descriptor is closed already
            chunk = b""
        if not chunk:
            self.eof = True
            self.close()
            return False
        self._buf += chunk
        got = False
        while len(self._buf) >= _HEADER.size:
            (n,) = _HEADER.unpack_from(self._buf)
            if len(self._buf) < _HEADER.size + n:
                break
            body = bytes(self._buf[_HEADER.size : _HEADER.size + n])
            del self._buf[: _HEADER.size + n]
            try:
                self._ready.append(json.loads(body))
            except ValueError:
                self._ready.append({"kind": "error", "time": time.time(), "message": "a garbled record"})
            got = True
        return got

    def close(self) -> None:
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1


def send_stop(fd: int) -> bool:
    """Write the stop byte without ever blocking; False if the child can no longer hear it."""
    if fd < 0:
        return False
    try:
        return os.write(fd, STOP_BYTE) == 1
    except (BlockingIOError, InterruptedError):
        return True  # the pipe is full of earlier stop bytes: the child has its request already
    except OSError:  # EPIPE: the child has exited and closed its end
        return False


# ------------------------------------------------------------------------------------ child side
class RecordWriter:
    """The child's end of the records pipe: ``put`` appends to a list that a feeder thread writes."""

    def __init__(self, fd: int, on_broken=None) -> None:
        self.fd = fd
        self.broken = False  # the parent is gone (EPIPE): records are dropped from then on
        self._on_broken = on_broken
        self._items: collections.deque[bytes] = collections.deque()
        self._cv = threading.Condition()
        self._closing = False
        self._hold = os.environ.get(HOLD_FINAL_ENV)
        self._hold_kind = os.environ.get(HOLD_KIND_ENV) or "final"
        self._thread = threading.Thread(target=self._feed, name="skipwire-records", daemon=True)
        self._thread.start()

    def hold_for_run(self, run_dir: str | None) -> None:
        """Tests only: a hold path with "{run}" names one run of several (a sweep's children)."""
        if self._hold and "{run}" in self._hold:
            self._hold = self._hold.replace("{run}", Path(run_dir).name) if run_dir else None

    def put(self, rec: dict) -> None:
        if self._hold and (
            _is_final(rec) if self._hold_kind == "final" else rec.get("kind") == self._hold_kind
        ):
            _hold_here(self._hold)
            self._hold = None  # once
        frame = encode(rec)
        with self._cv:
            self._items.append(frame)
            self._cv.notify()

    def _feed(self) -> None:
        while True:
            with self._cv:
                while not self._items and not self._closing:
                    self._cv.wait()
                if not self._items:
                    return
                frame = self._items.popleft()
            if self.broken:
                continue
            try:
                view = memoryview(frame)
                while view:
                    view = view[os.write(self.fd, view) :]
            except OSError:
                self.broken = True
                if self._on_broken is not None:
                    self._on_broken()

    def close(self, timeout_s: float = 10.0) -> None:
        """Flush what is queued (at most ``timeout_s``: a parent that no longer reads is not waited
        for), then close the pipe so the parent sees end-of-file."""
        with self._cv:
            self._closing = True
            self._cv.notify()
        self._thread.join(timeout_s)
        try:
            os.close(self.fd)
        except OSError:
            pass


def _is_final(rec: dict) -> bool:
    from training.metrics import FINAL_STATES

    return rec.get("kind") == "error" or (rec.get("kind") == "status" and rec.get("state") in FINAL_STATES)


def _hold_here(path: str) -> None:
    """Tests only: say "reached" (``PATH.reached``) and wait until ``PATH`` exists."""
    Path(path + ".reached").write_text("1")
    while not os.path.exists(path):
        time.sleep(0.01)


class ControlWatcher:
    """Reads the control pipe (stdin) in a thread: a stop byte or end-of-file sets ``stop``.

    End-of-file means the parent has gone; then the child stops at its next step like after Stop,
    and if it has still not exited ``orphan_grace_s`` later (stuck in a C call, a hung download),
    it ends itself so that nothing is left running."""

    def __init__(self, fd: int = 0, orphan_grace_s: float = 60.0) -> None:
        self.fd = fd
        self.stop = threading.Event()  # in-process only: never shared with another process
        self.parent_gone = False
        self._grace = orphan_grace_s
        threading.Thread(target=self._watch, name="skipwire-control", daemon=True).start()

    def should_stop(self) -> bool:
        return self.stop.is_set()

    def _watch(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 64)
            except InterruptedError:
                continue
            except OSError:
                data = b""
            if not data:
                self.parent_gone = True
                self.stop.set()
                time.sleep(self._grace)
                os._exit(3)
            if STOP_BYTE in data:
                self.stop.set()


__all__ = ["HOLD_FINAL_ENV", "ControlWatcher", "RecordReader", "RecordWriter", "encode", "send_stop"]
