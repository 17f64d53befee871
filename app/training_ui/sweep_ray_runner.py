"""The Sweep tab's Ray backend: "Run on: This machine | Ray cluster" with the cluster's address
(remembered in the settings), and a sweep run as the command line's ``main.py sweep --resume DIR
--backend ray [--address A]`` in a child process.

The tab writes the sweep folder and its sweep.json exactly as for a local sweep (the same plan,
settings and run folder names); the child trains what sweep.json lists, so Ray is imported in the
child only, never in the editor. The child's stdout and stderr go to DIR/sweep.log, which a
QTimer reads with non-blocking reads (docs/processes.md: no call from the GUI thread into a child
can block); each trial's state (queued, starting, running on NODE, epoch N, done, failed: reason,
stopped) comes from the lines training/sweep_ray.py logs. Stop sends SIGINT to the sweep process
alone (as Ctrl-C in a terminal: every trial stops at its next step with a checkpoint, sweep.csv is
written, and ``--resume`` continues); a second Stop kills its process group. When the child ends,
the tab loads sweep.csv and the run folders into its table and Pareto chart.

A log file rather than a pipe: the sweep keeps its record, and a child whose editor has closed
writes on (a closed pipe would break its next line).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLineEdit

LOCAL, RAY = "local", "ray"
DEFAULT_ADDRESS = "auto"
POLL_MS = 100
READ_CHUNK = 1 << 16  # at most this much of the log per tick: the GUI thread never reads for long
LOG_NAME = "sweep.log"
CELL_REASON = 40  # characters of a failure's reason in the State cell (all of it in the tooltip)
MAIN = Path(__file__).resolve().parents[2] / "main.py"
_TIPS = ("", "Parameters", "Multiply-accumulates per image", "Best validation accuracy (of its repeats)")
PLAIN_HEADERS = tuple(
    zip(("Configuration", "Parameters", "MACs", "Best val acc", "State"), (*_TIPS, ""), strict=True)
)
STATE_HEADERS = tuple(
    zip(("Config", "Params", "MACs", "Best acc", "State"), (*_TIPS, "Each trial's state on Ray"), strict=True)
)

# ----------------------------------------------------------------------------- the log's lines
# What training/sweep_ray.py logs about a trial (NAME: its label, "depth=3" or "depth=3 (repeat 2)").
_NAME = r"^  (?P<name>.+?): "
_PATTERNS = (
    (
        "submitted",
        re.compile(
            r"^\[\d+/\d+\] (?P<name>.+?): (?:[\d,]+ parameters -> |resuming )"
            r".* on Ray \((?P<detail>[^()]*)\)$"
        ),
    ),
    ("started", re.compile(_NAME + r"started(?: on (?P<detail>\S+))?$")),
    ("epoch", re.compile(_NAME + r"epoch (?P<detail>\d+) val acc .*$")),
    ("done", re.compile(_NAME + r"done, best val acc (?P<detail>\S+)$")),
    ("failed", re.compile(_NAME + r"failed: (?P<detail>.*)$")),
    ("lost", re.compile(_NAME + r"its Ray worker was lost .*; running it again (?P<detail>.*)$")),
    ("lost_stopping", re.compile(_NAME + r"(?P<detail>its Ray worker was lost .*) while stopping$")),
    ("outcome", re.compile(_NAME + r"(?P<detail>(?:stopped|diverged): .*)$")),
    ("stopping", re.compile(r"^stopping: (?P<detail>\d+) trial")),
)


@dataclass(frozen=True)
class Event:
    kind: str  # submitted | started | epoch | done | failed | lost | lost_stopping | outcome | stopping
    name: str  # the trial's name in the log ("" for the sweep's own lines)
    detail: str


def parse_line(line: str) -> Event | None:
    """The trial event that one line of ``sweep --backend ray`` reports, or None."""
    line = line.rstrip("\r\n")
    for kind, pattern in _PATTERNS:
        m = pattern.match(line)
        if m:
            d = m.groupdict()
            return Event(kind, d.get("name") or "", d.get("detail") or "")
    return None


class TrialStates:
    """Every trial's state, from the log's events. Keys: (configuration index, repeat)."""

    FINAL = ("done", "failed", "stopped", "diverged", "not started", "interrupted")

    def __init__(self, labels: list[str], repeats: int, epochs: int | None = None) -> None:
        from training.sweep_ray import trial_name  # no Ray: the module imports it lazily

        self.repeats, self.epochs = repeats, epochs
        self.names = {
            trial_name(label, r, repeats): (i, r) for i, label in enumerate(labels) for r in range(repeats)
        }
        self.state = {key: "queued" for key in self.names.values()}
        self.detail = {key: "" for key in self.names.values()}  # the full reason, for a tooltip
        self.node: dict[tuple[int, int], str] = {}

    def apply(self, ev: Event) -> list[tuple[int, int]]:
        """Take one event; returns the keys whose state changed."""
        if ev.kind == "stopping":  # the trials not started yet never will be
            keys = [k for k, s in self.state.items() if s == "queued"]
            for k in keys:
                self.state[k] = "not started"
            return keys
        key = self.names.get(ev.name)
        if key is None:
            return []
        state = self._state_of(key, ev)
        if state is None:
            return []
        self.state[key] = state
        self.detail[key] = ev.detail if ev.kind in ("failed", "outcome", "lost", "lost_stopping") else ""
        return [key]

    def _state_of(self, key, ev: Event) -> str | None:
        if ev.kind == "submitted":
            return f"starting ({ev.detail})"
        if ev.kind == "started":
            self.node[key] = ev.detail
            return "running" + (f" on {ev.detail}" if ev.detail else "")
        if ev.kind == "epoch":
            of = f"/{self.epochs}" if self.epochs else ""
            return f"epoch {ev.detail}{of}"  # the node stays in the tooltip (a narrow column)
        if ev.kind == "done":
            return "done"
        if ev.kind == "failed":
            return f"failed: {ev.detail}"
        if ev.kind == "lost":
            return f"worker lost; again {ev.detail}"
        if ev.kind == "lost_stopping":
            return "stopped (worker lost)"
        if ev.kind == "outcome":
            return ev.detail.partition(":")[0]  # stopped | diverged
        return None

    def ended(self, killed: bool) -> list[tuple[int, int]]:
        """The sweep process is gone: a trial still waiting never started; one still running was
        interrupted (killed) or stopped."""
        changed = []
        for k, s in self.state.items():
            if s.startswith(self.FINAL):
                continue
            if s == "queued" or s.startswith("starting"):
                self.state[k] = "not started"
            else:
                self.state[k] = "interrupted" if killed else "stopped"
            changed.append(k)
        return changed

    def text(self, index: int) -> str:
        """One configuration's cell (the tooltip has the rest): its trial's state, a failure's reason
        cut near CELL_REASON characters; with repeats one line each in a word ("#1 done", "#2 epoch 1/3"),
        or one word for all when they agree."""
        states = [self.state.get((index, r), "") for r in range(self.repeats)]
        if self.repeats == 1:
            s = states[0]
            return s if len(s) <= CELL_REASON + 8 else s[: CELL_REASON + 8].rsplit(" ", 1)[0] + "…"
        short = [_short(s) for s in states]
        if len(set(short)) == 1:
            return short[0]
        return "\n".join(f"#{r + 1} {w}" for r, w in enumerate(short))

    def tooltip(self, index: int) -> str:
        lines = []
        for r in range(self.repeats):
            s, d = self.state.get((index, r), ""), self.detail.get((index, r), "")
            head = f"repeat {r + 1}: " if self.repeats > 1 else ""
            node = self.node.get((index, r), "")
            where = f" on {node}" if node and node not in s and not s.startswith(("queued", "not")) else ""
            lines.append(f"{head}{s}{where}" + (f" ({d})" if d and d not in s else ""))
        return "\n".join(lines)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.state.values():
            word = _short(s)
            word = "running" if word.startswith("epoch") else word
            out[word] = out.get(word, 0) + 1
        return out


def _short(state: str) -> str:
    """A state in a word or two: "running on 10.0.0.2" -> "running", "failed: ..." -> "failed"."""
    for cut in (" on ", ":", ";", " ("):
        state = state.split(cut)[0]
    return state


# ----------------------------------------------------------------------------- the child process
def sweep_command(out: Path, address: str) -> list[str]:
    """``main.py sweep --resume DIR --backend ray [--address A]`` (empty or "local": a Ray instance of
    this machine: ``ray.init()``'s own choice, the one ``ray start`` started here, else a new one)."""
    cmd = [sys.executable, str(MAIN), "sweep", "--resume", str(out), "--backend", "ray"]
    address = address.strip()
    if address and address.lower() != "local":
        cmd += ["--address", address]
    return cmd


class SweepProcess:
    """The sweep child: output to a log file, read without ever waiting; every call returns at once."""

    def __init__(self, cmd: list[str], log_path: Path) -> None:
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(MAIN.parent),
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,  # Ctrl-C in the editor's terminal is not the sweep's
            )
        self._fd = os.open(log_path, os.O_RDONLY | os.O_NONBLOCK)
        self._partial = b""
        self.interrupted = self.killed = False

    @property
    def pid(self) -> int:
        return self._proc.pid

    def read_lines(self, final: bool = False) -> list[str]:
        """The complete lines written since the last call (all that is left when ``final``)."""
        data = b""
        while True:
            try:
                chunk = os.read(self._fd, READ_CHUNK)
            except BlockingIOError:
                chunk = b""
            data += chunk
            if not chunk or (not final and len(data) >= READ_CHUNK):
                break
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        if final and self._partial:
            lines.append(self._partial)
            self._partial = b""
        return [ln.decode("utf-8", "replace").rstrip("\r") for ln in lines]

    def exit_code(self) -> int | None:
        return self._proc.poll()  # waitpid(WNOHANG)

    def interrupt(self) -> None:
        """SIGINT to the sweep process alone (its Ray processes take their orders from it)."""
        if self._proc.poll() is None:
            self.interrupted = True
            try:
                os.kill(self._proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """SIGKILL to its whole process group (a Ray instance it started dies with it)."""
        if self._proc.poll() is None:
            self.killed = True
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


# ----------------------------------------------------------------------------- the tab's part
class RayBackend(QObject):
    """The backend choice and, with Ray, the running sweep (``panel``: the SweepPanel)."""

    state_changed = Signal()  # started, stopped or ended (the panel's buttons follow)
    trials_changed = Signal()

    def __init__(self, panel, settings=None) -> None:
        super().__init__(panel)
        self.panel, self.settings = panel, settings
        self.process: SweepProcess | None = None
        self.states: TrialStates | None = None
        self.sweep_dir: Path | None = None
        self.last_lines: list[str] = []
        self.error_line = ""  # the command line's "skipwire: ..." line
        self.outcome_line = ""  # its "stopped with ..." or "... did not finish" line
        self.exit_code: int | None = None
        self.command_for = sweep_command  # tests put a stand-in sweep here

        self.backend = QComboBox()
        self.backend.addItem("This machine", LOCAL)
        self.backend.addItem("Ray cluster", RAY)
        self.backend.setToolTip(
            "This machine: the runs queue on the Training tab, one after another. Ray cluster: "
            "`main.py sweep --backend ray` trains them in parallel on the cluster "
            "(pip install 'skipwire[ray]')"
        )
        self.address = QLineEdit()
        self.address.setPlaceholderText("empty: a Ray instance of this machine")
        self.address.setToolTip(
            "auto: the cluster this machine joined with `ray start`; ray://HOST:10001: a cluster's Ray "
            "Client port; empty or local: a Ray instance of this machine (Ray's own choice: the one "
            "`ray start` started here, else one started for the sweep)"
        )
        backend = str(settings.sweep_backend()) if settings is not None else LOCAL
        self.backend.setCurrentIndex(max(0, self.backend.findData(backend)))
        self.address.setText(settings.ray_address() if settings is not None else DEFAULT_ADDRESS)
        self.backend.currentIndexChanged.connect(self._on_backend)
        self.address.textChanged.connect(self._on_address)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)

    def add_rows(self, form: QFormLayout) -> None:
        form.addRow("Run on", self.backend)
        form.addRow("Ray address", self.address)
        self._form = form
        self._on_backend()

    def chosen(self) -> bool:
        return self.backend.currentData() == RAY

    def running(self) -> bool:
        return self.process is not None

    def _on_backend(self, *_a) -> None:
        ray = self.chosen()
        form = getattr(self, "_form", None)
        if form is not None:
            form.setRowVisible(self.address, ray)
        if not ray and not self.running():
            self.states = None  # this machine's sweeps have no State column: the last Ray sweep's goes
        self.show_state_column(ray)
        if self.settings is not None:
            self.settings.set_sweep_backend(self.backend.currentData())
        self.state_changed.emit()

    def show_state_column(self, show: bool) -> None:
        """The table's State column; beside it the other headers are short, so that the narrow
        settings column keeps room for the configuration and its state (both wrap)."""
        from PySide6.QtWidgets import QHeaderView

        table, header = self.panel.table, self.panel.table.horizontalHeader()
        names = STATE_HEADERS if show else PLAIN_HEADERS
        for col, (name, tip) in enumerate(names):
            item = table.horizontalHeaderItem(col)
            item.setText(name)
            item.setToolTip(tip)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        table.setColumnHidden(4, not show)
        table.setWordWrap(True)
        table.verticalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents if show else QHeaderView.ResizeMode.Interactive
        )

    def _on_address(self, text: str) -> None:
        if self.settings is not None:
            self.settings.set_ray_address(text.strip())

    # ----- running ---------------------------------------------------------------------
    def start(self, out: Path, configs: list, repeats: int, epochs: int | None) -> str | None:
        """Start the sweep of the folder ``out`` (sweep.json written); None, or why it cannot."""
        if self.process is not None:
            return "a Ray sweep is running"
        self.states = TrialStates([c.label for c in configs], repeats, epochs)
        self.sweep_dir, self.exit_code, self.last_lines = out, None, []
        self.error_line = self.outcome_line = ""
        try:
            self.process = SweepProcess(self.command_for(out, self.address.text()), out / LOG_NAME)
        except OSError as exc:
            self.states = None
            return f"cannot start the sweep process: {exc}"
        self.backend.setEnabled(False)
        self.address.setEnabled(False)
        self.show_state_column(True)
        self.trials_changed.emit()
        self._timer.start()
        self.state_changed.emit()
        return None

    def stop(self) -> str:
        """First call: SIGINT (every trial stops at its next step); a second: kill. Says which."""
        if self.process is None:
            return ""
        if not self.process.interrupted:
            self.process.interrupt()
            return self.progress_text()
        self.process.kill()
        return "Killing the sweep…"

    def shutdown(self) -> None:
        """The window closes: the sweep stops at its next step and ends by itself (its log goes on)."""
        if self.process is not None and not self.process.interrupted:
            self.process.interrupt()

    def poll(self) -> None:
        """Called by the timer: new log lines, and the end of the child. Never waits."""
        proc = self.process
        if proc is None:
            return
        code = proc.exit_code()
        self._take(proc.read_lines(final=code is not None))
        if code is None:
            return
        self._timer.stop()
        proc.close()
        self.process = None
        self.exit_code = code
        self.backend.setEnabled(True)
        self.address.setEnabled(True)
        if self.states is not None and self.states.ended(killed=proc.killed or code < 0):
            self.trials_changed.emit()
        self.panel.ray_sweep_ended(code, *self._ending_message(code, proc))
        self.state_changed.emit()

    def _take(self, lines: list[str]) -> None:
        changed = False
        for line in lines:
            if line.strip():
                self.last_lines = (self.last_lines + [line])[-20:]
            if line.startswith("skipwire: "):  # the command line's own error (exit 2: nothing trained)
                self.error_line = line.removeprefix("skipwire: ")
            elif line.startswith("stopped with ") or " runs did not finish; " in line:
                self.outcome_line = line
            ev = parse_line(line)
            if ev is None or self.states is None:
                continue
            keys = self.states.apply(ev)
            changed = changed or bool(keys)
            if ev.kind == "done":
                for index, repeat in keys:
                    self.panel.ray_trial_done(index, repeat)
        if changed:
            self.trials_changed.emit()

    def _ending_message(self, code: int, proc: SweepProcess) -> tuple[str, bool]:
        """What the tab says when the sweep ends, and whether that is an error."""
        hint = " ".join(["python", *sweep_command(self.sweep_dir, self.address.text())[1:]])
        hint = hint.replace(str(MAIN), "main.py")
        if self.error_line and not proc.killed:
            return self.error_line, True
        if proc.killed or code < 0:
            return f"The sweep was killed; continue it with: {hint}", False
        if self.outcome_line.startswith("stopped with "):
            return f"Stopped; continue with: {hint}", False
        if self.outcome_line:
            return f"Some runs did not finish (see State); retry them with: {hint}", True
        if code == 0:
            return "", False
        last = self.last_lines[-1] if self.last_lines else ""
        return f"the sweep process exited with code {code}" + (f": {last}" if last else ""), True

    def progress_text(self) -> str:
        """While it runs: how many trials are in which state, and where its log is."""
        if self.states is None or self.sweep_dir is None:
            return ""
        counts = ", ".join(f"{n} {word}" for word, n in self.states.counts().items())
        stopping = (
            "Stopping (Stop again kills it). "
            if self.process is not None and self.process.interrupted
            else ""
        )
        where = self.address.text().strip() or "a Ray instance of this machine"
        return f"{stopping}On Ray ({where}): {counts}. Log: {self.sweep_dir / LOG_NAME}"


def discard_unused(out: Path) -> None:
    """Remove a sweep folder that holds nothing but its sweep.json and log (the sweep was refused
    before any trial started); anything else in it stays."""
    try:
        names = {p.name for p in out.iterdir()}
    except OSError:
        return
    if names <= {"sweep.json", LOG_NAME}:
        for name in names:
            (out / name).unlink(missing_ok=True)
        try:
            out.rmdir()
        except OSError:
            pass


__all__ = [
    "DEFAULT_ADDRESS",
    "LOCAL",
    "RAY",
    "Event",
    "RayBackend",
    "SweepProcess",
    "TrialStates",
    "discard_unused",
    "parse_line",
    "sweep_command",
]
