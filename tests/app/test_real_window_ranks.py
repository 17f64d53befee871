"""Issue 20 in a real X11 window: with SKIPWIRE_TRAIN_PROCESSES=2 the Training tab trains as 2 gloo
processes through torchrun, rank 0's records draw the plots, Stop ends both ranks cleanly
(tests/app/real_window_ranks.py drives it with xdotool)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from graph.model import Project
from graph.projectfile import save_project

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_real_window import xserver  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("real_window_ranks.py")
SHOTS = os.environ.get("SKIPWIRE_SHOTS_DIR")  # keep the screenshots there (the closing note looks at them)


@pytest.mark.timeout(300)
def test_two_cpu_ranks_train_and_stop_in_a_real_window(xserver, tmp_path):  # noqa: F811
    project = tmp_path / "tiny.json"
    tiny = Project("Tiny")
    g = tiny.graph
    g.chain(
        g.add("Input", shape=[1, 8, 8]),
        g.add("Conv2d", out_channels=8, kernel_size=3, padding=1),
        g.add("BatchNorm2d"),
        g.add("ReLU"),
        g.add("AdaptiveAvgPool2d", output_size=1),
        g.add("Flatten"),
        g.add("Linear", out_features=10),
        g.add("Output"),
    )
    save_project(tiny, project)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("QT_", "XDG_", "WAYLAND")) and k != "DISPLAY"
    }
    env.update(
        DISPLAY=xserver,
        QT_QPA_PLATFORM="xcb",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_RUNTIME_DIR=str(tmp_path),
        SKIPWIRE_TRAIN_PROCESSES="2",
        OMP_NUM_THREADS="1",
    )
    shots = Path(SHOTS) if SHOTS else tmp_path / "shots"
    proc = subprocess.run(
        [sys.executable, str(DRIVER), str(project), str(shots)],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=280,
        env=env,
    )
    out = proc.stdout + proc.stderr[-3000:]
    assert proc.returncode == 0, out
    assert "training as 2 ranks under torchrun" in out, out
    assert "2 ranks and torchrun have exited" in out, out
    assert len(list(shots.glob("*.png"))) == 2, out
