"""Issue 19 in a real X11 window: Stop on a child that has already ended, five times, then Stop on a
live run; the window keeps answering (tests/app/real_window_stop.py drives it with xdotool)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from real_window_support import editor_env, run_driver, tiny_project

from graph.projectfile import save_project

DRIVER = Path(__file__).with_name("real_window_stop.py")
SHOTS = os.environ.get("SKIPWIRE_SHOTS_DIR")  # keep the screenshots there (the closing note looks at them)


@pytest.mark.timeout(300)
def test_stop_on_an_ended_child_and_on_a_live_run_in_a_real_window(xserver, tmp_path):
    project = tmp_path / "tiny.json"
    save_project(tiny_project(), project)
    hold = str(tmp_path / "release")
    env = editor_env(xserver, tmp_path, SKIPWIRE_TEST_HOLD_FINAL=hold, OMP_NUM_THREADS="1")
    shots = Path(SHOTS) if SHOTS else tmp_path / "shots"
    rc, out = run_driver(DRIVER, [str(project), str(shots)], env, timeout=280)
    assert rc == 0, out
    assert "Stop click 5 returned" in out, out
    assert len(list(shots.glob("*.png"))) == 5, out
