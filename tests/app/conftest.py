"""Fixtures for the editor's tests: a window with temporary settings and
recovery folder, and dialogs that fail loudly instead of hanging."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from graph.model import Graph, Project

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the tests' own helper modules (real_window_support.py)
    sys.path.insert(0, str(HERE))


class DialogRecorder:
    """Stands in for QMessageBox / QFileDialog static calls; answers from a queue."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.answers: dict[str, list] = {}

    def answer(self, kind: str, *values) -> None:
        self.answers.setdefault(kind, []).extend(values)

    def _take(self, kind: str, title: str, text: str = ""):
        self.calls.append((kind, f"{title}: {text}"))
        queue = self.answers.get(kind)
        if not queue:
            raise AssertionError(f"unexpected dialog {kind}: {title}: {text}")
        return queue.pop(0)


@pytest.fixture
def dialogs(monkeypatch) -> DialogRecorder:
    rec = DialogRecorder()
    monkeypatch.setattr(
        QMessageBox, "question", lambda parent, title, text, *a, **k: rec._take("question", title, text)
    )
    monkeypatch.setattr(
        QMessageBox, "critical", lambda parent, title, text, *a, **k: rec._take("critical", title, text)
    )
    monkeypatch.setattr(
        QMessageBox, "warning", lambda parent, title, text, *a, **k: rec._take("warning", title, text)
    )
    monkeypatch.setattr(
        QMessageBox, "information", lambda parent, title, text, *a, **k: rec._take("information", title, text)
    )
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda parent, title, *a, **k: rec._take("save", title)
    )
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", lambda parent, title, *a, **k: rec._take("open", title)
    )
    return rec


@pytest.fixture
def settings(tmp_path):
    from app.settings import Settings

    return Settings(tmp_path / "settings.ini")


@pytest.fixture
def make_window(qtbot, settings, tmp_path, dialogs, monkeypatch):
    from app import files
    from app.main_window import MainWindow

    unsaved = tmp_path / "unsaved-runs"  # an unsaved project's runs: not the user's Documents
    monkeypatch.setattr(files, "unsaved_runs_dir", lambda: unsaved, raising=False)

    made = []

    def make(project: Project | None = None, path: str | None = None, show: bool = True):
        w = MainWindow(settings=settings, recovery_dir=str(tmp_path / "recovery"))
        qtbot.addWidget(w, before_close_func=_forget_changes)
        if project is not None:
            w.document.replace_project(project, path)
        if show:
            w.resize(1400, 900)
            w.show()
            qtbot.waitExposed(w)
        made.append(w)
        return w

    yield make
    for w in made:
        _forget_changes(w)


def _forget_changes(w) -> None:
    """Teardown closes windows: never prompt then (nor ask about a run still going)."""
    w.ask_about_run = lambda label: "stop"
    w.document.undo_stack.setClean()
    w.files.recovered = False


def mismatch_project() -> Project:
    """input -> conv (64 channels, stride 2) -> add <- shortcut from input (identity): a shape mismatch."""
    g = Graph()
    inp = g.add("Input", "input", id="n1", shape=[3, 32, 32])
    conv = g.add("Conv2d", "conv1", id="n2", out_channels=64, kernel_size=3, stride=2, padding=1, bias=False)
    add = g.add("Add", "add", id="n3", num_inputs=2)
    pool = g.add("AdaptiveAvgPool2d", "pool", id="n4", output_size=1)
    flat = g.add("Flatten", "flatten", id="n5")
    fc = g.add("Linear", "fc", id="n6", out_features=10)
    out = g.add("Output", "output", id="n7")
    g.connect(inp, conv, id="e1")
    g.connect(conv, add, 0, id="e2")
    g.connect(inp, add, 1, kind="shortcut", name="shortcut", projection="identity", id="e3")
    g.chain(add, pool, flat, fc, out)
    ui = {
        "positions": {
            "n1": [0, 0],
            "n2": [0, 110],
            "n3": [0, 220],
            "n4": [0, 330],
            "n5": [0, 440],
            "n6": [0, 550],
            "n7": [0, 660],
        }
    }
    return Project("Mismatch", g, ui=ui)


def small_project() -> Project:
    p = mismatch_project()
    p.graph.set_edge_field("e3", "projection", "conv_bn")
    p.name = "Small"
    return p


class FakeChild:
    """Stands in for training.process.TrainingProcess: hands out scripted records, then 'exits'
    (or, with ``hold=True``, stays alive until stopped, as a long run does)."""

    def __init__(self, records: list[dict], hold: bool = False) -> None:
        self.records = list(records)
        self.hold = hold
        self.stopped = False

    def poll(self, max_items: int = 1000) -> list[dict]:
        out, self.records = self.records[:max_items], self.records[max_items:]
        return out

    def stop(self) -> None:
        from training.metrics import record

        self.stopped = True
        self.records.append(record("status", state="stopped", message="stopped by the user"))

    def is_alive(self) -> bool:
        return bool(self.records) or (self.hold and not self.stopped)


def write_fake_run(project: dict, config: dict, run_dir, acc: float = 0.5, status: str = "completed"):
    """What a finished (or stopped) child leaves: an ordinary run folder with two steps, one epoch
    and its accuracy (a stopped one with a checkpoint file to resume from)."""
    from pathlib import Path

    from training import runs
    from training.metrics import MetricsWriter, record

    run = Path(run_dir)
    runs.create_run(run, project, config, "# model\n", {"dataset": config.get("dataset", "synthetic")})
    w = MetricsWriter(run / "metrics.jsonl")
    for step in (1, 2):
        w.write(record("step", step=step, epoch=step / 2, loss=2.0 / step, lr=0.1, images_per_s=100.0))
    w.write(
        record(
            "epoch",
            epoch=1,
            step=2,
            train_loss=1.0,
            train_acc=0.5,
            val_loss=1.0,
            val_acc=acc,
            lr=0.1,
            images_per_s=100.0,
            epoch_time_s=2.0,
            eta_s=0.0,
            gpu_mem_mb=None,
            best=True,
        )
    )
    w.close()
    if status == "stopped":
        (run / "last.pt").write_bytes(b"checkpoint")
    runs.update_run_meta(run, status=status, epochs_done=1, best_val_acc=acc, last_val_acc=acc)
    return run


@pytest.fixture
def fake_training():
    """A training factory for TrainingController: every job leaves a finished run folder.
    ``fake_training.started`` lists (project name, config, run folder) of every job."""
    from training.metrics import record

    class Factory:
        def __init__(self) -> None:
            self.started: list[tuple[str, dict, str]] = []
            self.resumed: list[str] = []

        def __call__(self, project: dict, config: dict, run_dir: str, resume: bool = False) -> FakeChild:
            if resume:
                self.resumed.append(run_dir)
                return FakeChild([record("status", state="completed", message="finished")])
            self.started.append((project["name"], config, run_dir))
            write_fake_run(project, config, run_dir, acc=0.5 + 0.1 * len(self.started))
            return FakeChild(
                [
                    record("status", state="running", message="", total_steps=2, steps_per_epoch=2, epochs=1),
                    record("step", step=1, epoch=0.5, loss=2.0, lr=0.1, images_per_s=100.0),
                    record("status", state="completed", message="finished"),
                ]
            )

    return Factory()


@pytest.fixture
def xserver():
    """A fresh 1600x1000 X server (Xvfb) for a real-window test; yields the DISPLAY string."""
    from real_window_support import xvfb

    with xvfb("1600x1000") as display:
        yield display


@pytest.fixture
def small_screen():
    """A fresh 1280x720 X server, the smallest common laptop screen."""
    from real_window_support import xvfb

    with xvfb("1280x720") as display:
        yield display
