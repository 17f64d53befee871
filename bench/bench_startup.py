"""Editor start-up: process start -> window shown, and resnet152 open-and-render.

    python bench/bench_startup.py [--repeat 5]

1. ``python main.py open resnet20.skipwire`` in a child process with
   SKIPWIRE_TIMING=exit: the editor writes the wall-clock time right after the
   window is shown and painted (and whether torch was imported by then) and
   exits. Measured from just before the child is spawned, so it includes the
   interpreter's start and every import. Settings and the recovery folder are
   redirected to a temporary HOME so no real user state is read.
2. The same for ``python main.py`` (first launch: builds resnet20 from its template).
3. resnet152 opened in a child process the same way.
4. In process (one window): load resnet152's file, replace the document's
   project (the canvas rebuilds its items), and paint the window; each step timed.

Goal: window shown in under 1 s; torch not imported before it shows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _child(args: list[str], home: str, bytecode: bool) -> tuple[float, bool]:
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        SKIPWIRE_TIMING="exit",
        HOME=home,
        XDG_CONFIG_HOME=os.path.join(home, ".config"),
        XDG_DATA_HOME=os.path.join(home, ".local/share"),
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if bytecode:  # as an installed app runs: compiled modules cached (outside the repository)
        env["PYTHONPYCACHEPREFIX"] = os.path.join(home, "pycache")
    else:  # as this sandbox runs by default (PYTHONDONTWRITEBYTECODE=1): every module compiled at start
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    t0 = time.time()
    r = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    for line in r.stderr.splitlines():
        if line.startswith("skipwire-timing shown="):
            parts = dict(p.split("=") for p in line.split()[1:])
            return float(parts["shown"]) - t0, parts["torch_loaded"] == "True"
    raise RuntimeError(f"no timing line (exit {r.returncode}): {r.stderr[-500:]}")


FLOOR = """
import sys, time
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow
app = QApplication([])
w = QMainWindow(); w.setCentralWidget(QLabel("x")); w.show(); app.processEvents()
sys.stderr.write(f"skipwire-timing shown={time.time():.6f} torch_loaded=False\\n")
"""


def _floor(home: str, repeat: int) -> None:
    """An empty QMainWindow: what PySide6 alone costs on this machine right now."""
    path = os.path.join(home, "floor.py")
    Path(path).write_text(FLOOR, encoding="utf-8")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    times = []
    for _ in range(repeat):
        t0 = time.time()
        r = subprocess.run(
            [sys.executable, path], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        shown = float(r.stderr.split("shown=")[1].split()[0])
        times.append(shown - t0)
    print(
        f"{'reference: empty QMainWindow (PySide6 alone)':<52} "
        f"median {statistics.median(times) * 1000:6.0f} ms   "
        f"best {min(times) * 1000:6.0f} ms"
    )


def _series(label: str, args: list[str], home: str, repeat: int, bytecode: bool = True) -> None:
    times, torch_seen = [], False
    if bytecode:
        _child(args, home, bytecode)  # warm the bytecode cache
    for _ in range(repeat):
        t, torch_loaded = _child(args, home, bytecode)
        times.append(t)
        torch_seen |= torch_loaded
    print(
        f"{label:<52} median {statistics.median(times) * 1000:6.0f} ms   best {min(times) * 1000:6.0f} ms   "
        f"torch imported before shown: {'yes' if torch_seen else 'no'}"
    )


def _in_process(path: str, repeat: int) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from app.main_window import MainWindow
    from app.settings import Settings
    from graph.projectfile import load_project

    tmp = tempfile.mkdtemp()
    w = MainWindow(settings=Settings(os.path.join(tmp, "s.ini")), recovery_dir=os.path.join(tmp, "rec"))
    w.resize(1600, 1000)
    w.show()
    app.processEvents()
    rows = {"load file": [], "replace project (canvas rebuild)": [], "paint window": [], "total": []}
    for _ in range(repeat):
        t0 = time.perf_counter()
        project = load_project(path)
        t1 = time.perf_counter()
        w.document.replace_project(project, path)
        t2 = time.perf_counter()
        w.frame_readable()
        w.grab()
        app.processEvents()
        t3 = time.perf_counter()
        for k, v in zip(rows, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
            rows[k].append(v)
    for k, v in rows.items():
        print(
            f"  resnet152 in process: {k:<34} median {statistics.median(v) * 1000:6.1f} ms   "
            f"best {min(v) * 1000:6.1f} ms"
        )
    w.document.undo_stack.setClean()
    w.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    from graph.projectfile import save_project
    from graph.templates import make

    home = tempfile.mkdtemp(prefix="skipwire-bench-")
    r20 = os.path.join(home, "resnet20.skipwire")
    r152 = os.path.join(home, "resnet152.skipwire")
    save_project(make("resnet20"), r20)
    save_project(make("resnet152"), r152)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    _floor(home, args.repeat)
    _series("open resnet20: process start -> shown", ["open", r20], home, args.repeat)
    _series("  same, no bytecode cache (PYTHONDONTWRITEBYTECODE)", ["open", r20], home, args.repeat, False)
    _series("first launch (no file): process start -> shown", [], home, args.repeat)
    _series("open resnet152: process start -> shown", ["open", r152], home, args.repeat)
    _in_process(r152, args.repeat)


if __name__ == "__main__":
    main()
