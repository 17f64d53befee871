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
from pathlib import Path

import pytest
from real_window_support import editor_env, run_driver

from graph.projectfile import save_project
from graph.templates import make

WALK = Path(__file__).with_name("real_window_walk.py")


@pytest.mark.timeout(300)  # the driver itself has 300 s
def test_the_new_user_walk_on_a_1280x720_screen(small_screen, tmp_path):
    project = tmp_path / "work" / "resnet20.json"
    project.parent.mkdir()
    save_project(make("resnet20"), project)
    shots = Path(os.environ.get("SKIPWIRE_WALK_SHOTS") or tmp_path / "shots")
    # a first launch's settings, recovery folder and Documents, not the user's
    rc, out = run_driver(WALK, [str(project), str(shots)], editor_env(small_screen, tmp_path), timeout=300)
    assert rc == 0, out
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
