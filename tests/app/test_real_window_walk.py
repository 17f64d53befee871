"""Issue 25's walk in a real X11 window on a 1280x720 screen (Xvfb, xcb, xdotool), beside
test_real_window.py: every tab, Ctrl+Z in an inspector field, a sweep, a Pareto point opened as a
copy, View ▸ Reset layout, a palette double-click; the window's size, its minimum and the docks'
geometry are asserted along the way (tests/app/real_window_walk.py).

Screenshots of the real X screen at each stage go to $SKIPWIRE_WALK_SHOTS when set (CI keeps them
there for a person to look at), else to the test's temporary folder. Skips on a developer machine
without Xvfb or xdotool; fails under CI=true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import preflight
from graph.projectfile import save_project
from graph.templates import make
from tests.app.test_real_window import _unavailable

ROOT = Path(__file__).resolve().parents[2]
WALK = Path(__file__).with_name("real_window_walk.py")


@pytest.fixture
def small_screen():
    """A fresh 1280x720 Xvfb on a free display (-displayfd picks it); yields the DISPLAY string."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        _unavailable("Xvfb is not installed")
    if shutil.which("xdotool") is None:
        _unavailable("xdotool is not installed")
    problem = preflight.problem({"QT_QPA_PLATFORM": "xcb"})
    if problem:
        _unavailable(problem)
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        number = f.readline().strip()
    if not number:
        err = proc.stderr.read().decode(errors="replace")[-500:] if proc.stderr else ""
        proc.kill()
        pytest.fail(f"Xvfb did not start: {err}")
    try:
        yield f":{number}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_the_new_user_walk_on_a_1280x720_screen(small_screen, tmp_path):
    project = tmp_path / "work" / "resnet20.json"
    project.parent.mkdir()
    save_project(make("resnet20"), project)
    shots = Path(os.environ.get("SKIPWIRE_WALK_SHOTS") or tmp_path / "shots")
    home = tmp_path / "home"
    home.mkdir()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("QT_", "XDG_", "WAYLAND")) and k != "DISPLAY"
    }
    env.update(
        DISPLAY=small_screen,
        QT_QPA_PLATFORM="xcb",
        HOME=str(home),  # a first launch's settings, recovery folder and Documents, not the user's
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_RUNTIME_DIR=str(tmp_path),
    )
    proc = subprocess.run(
        [sys.executable, str(WALK), str(project), str(shots)],
        cwd=ROOT,
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    for step in (
        "shown platform=xcb",
        "1280x720: minimum (960, 560)",
        "every tab: the window kept its size and minimum",
        "Ctrl+Z and Ctrl+Shift+Z in an inspector field: the document's undo and redo",
        "sweep of 2 runs: the window kept its size and minimum",
        "Pareto point:",
        "Reset layout: the docks are where the fresh start had them",
        "palette double-click: the Conv2d sits clear of the edge and the cards",
        "closed, exit code 0",
    ):
        assert step in out, f"{step!r} missing:\n{out}"
    assert "Traceback" not in out, out
    assert len(list(shots.glob("*.png"))) >= 12
