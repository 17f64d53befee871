"""Issue 20 in a real X11 window: with SKIPWIRE_TRAIN_PROCESSES=2 the Training tab trains as 2 gloo
processes through torchrun, rank 0's records draw the plots, Stop ends both ranks cleanly
(tests/app/real_window_ranks.py drives it with xdotool)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from real_window_support import editor_env, run_driver, tiny_project

from graph.projectfile import save_project

DRIVER = Path(__file__).with_name("real_window_ranks.py")
SHOTS = os.environ.get("SKIPWIRE_SHOTS_DIR")  # keep the screenshots there (the closing note looks at them)


@pytest.mark.timeout(300)
def test_two_cpu_ranks_train_and_stop_in_a_real_window(xserver, tmp_path):
    project = tmp_path / "tiny.json"
    save_project(tiny_project(), project)
    env = editor_env(xserver, tmp_path, SKIPWIRE_TRAIN_PROCESSES="2", OMP_NUM_THREADS="1")
    shots = Path(SHOTS) if SHOTS else tmp_path / "shots"
    rc, out = run_driver(DRIVER, [str(project), str(shots)], env, timeout=280)
    assert rc == 0, out
    assert "training as 2 ranks under torchrun" in out, out
    assert "2 ranks and torchrun have exited" in out, out
    assert len(list(shots.glob("*.png"))) == 2, out
