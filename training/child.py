"""The child's side of training/process.py: ``python -m training.child JOBFILE RECORDS_FD``.

It reads (and deletes) the job file, watches its stdin for Stop (and for the parent's exit), and
calls the job's target with the payload and a link whose ``put`` streams records to the parent and
whose ``should_stop`` says whether Stop was asked; see training/child_link.py for why none of this
can deadlock.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import traceback
from pathlib import Path

from training.child_link import ControlWatcher, RecordWriter
from training.metrics import record


class Link:
    """What a job sees of its parent."""

    def __init__(self, writer: RecordWriter, watcher: ControlWatcher) -> None:
        self._writer, self._watcher = writer, watcher
        self.sent_error = False

    def put(self, rec: dict) -> None:
        if rec.get("kind") == "error":
            self.sent_error = True
        self._writer.put(rec)

    def should_stop(self) -> bool:
        return self._watcher.should_stop()


def train_job(payload: dict, link: Link) -> int:
    """Train (or resume) one run, streaming every record; the exit code."""
    from graph.errors import UserError
    from training import engine

    try:
        if payload["resume"]:
            engine.resume(
                payload["run_dir"],
                on_metric=link.put,
                should_stop=link.should_stop,
                **(payload["overrides"] or {}),
            )
        else:
            engine.train(
                payload["project"],
                payload["config"],
                payload["run_dir"],
                on_metric=link.put,
                should_stop=link.should_stop,
            )
    except UserError as exc:
        if not link.sent_error:  # the engine reports failures it meets while training itself
            link.put(record("error", message=exc.message, exit_code=exc.exit_code))
        return exc.exit_code
    return 0


class _RankErrors:
    """A rank other than 0 under torchrun: rank 0 streams the records; this one keeps its error
    record (if any) in the job folder, where the parent looks when the job ends without a final
    record from rank 0."""

    def __init__(self, path: str) -> None:
        self.path = path

    def put(self, rec: dict) -> None:
        if rec.get("kind") == "error":
            from training.runs import write_json

            write_json(Path(self.path), rec)

    def close(self) -> None:
        pass


def _records_fd(arg: str) -> int | None:
    """The records pipe: a passed fd, or under torchrun ("stdout") rank 0's stdout (None on the other
    ranks); stdout itself then goes to stderr, so that no print can corrupt a frame."""
    if arg != "stdout":
        fd = int(arg)
        os.set_inheritable(fd, False)
        return fd
    fd = os.dup(1) if int(os.environ.get("RANK", "0")) == 0 else None
    os.dup2(2, 1)
    return fd


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it asks through the control pipe
    job_path, records_fd = argv[0], _records_fd(argv[1])
    watcher = ControlWatcher(0)
    if records_fd is None:
        rank = int(os.environ.get("RANK", "0"))
        writer = _RankErrors(os.path.join(os.path.dirname(job_path), f"rank-{rank}.error.json"))
    else:
        writer = RecordWriter(records_fd, on_broken=watcher.stop.set)
    link = Link(writer, watcher)
    code = 1
    try:
        with open(job_path, encoding="utf-8") as f:
            job = json.load(f)
        if not job.get("keep"):  # under torchrun every rank reads it; the parent removes it
            os.unlink(job_path)
        if isinstance(writer, RecordWriter):
            writer.hold_for_run(job["payload"].get("run_dir"))
        module, _, name = job["target"].partition(":")
        code = getattr(importlib.import_module(module), name)(job["payload"], link) or 0
    except BaseException as exc:  # noqa: BLE001 - the parent must hear about anything
        link.put(
            record(
                "error",
                message=f"the training process failed: {type(exc).__name__}: {exc}",
                traceback=traceback.format_exc(),
            )
        )
        code = 1
    finally:
        writer.close()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
