"""The editor in a real X11 window: Xvfb, Qt's xcb platform, a real pointer click.

The offscreen tests never load Qt's xcb plugin, so they cannot see a missing system library
(Qt aborts with "could not load the Qt platform plugin xcb"). This test starts an X server,
runs tests/app/real_window_driver.py in a child process (so that this process's offscreen
QApplication is unaffected): it opens resnet56 through the editor's start-up path, clicks a
card and checks the selection, then closes the window.

Where Xvfb, xdotool or a library is missing the test skips on a developer machine and FAILS in
CI (CI=true): there it must run, never pass by skipping.
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

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("real_window_driver.py")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"the real-window test cannot run in CI: {reason} (.ci/run installs it with apt-get)")
    pytest.skip(reason)


@pytest.fixture
def xserver(tmp_path):
    """A fresh Xvfb on a free display (-displayfd picks it); yields the DISPLAY string."""
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
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
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


def test_editor_opens_resnet56_in_a_real_window_and_a_click_selects_a_card(xserver, tmp_path):
    project = tmp_path / "resnet56.json"
    save_project(make("resnet56"), project)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("QT_", "XDG_", "WAYLAND")) and k != "DISPLAY"
    }
    env.update(
        DISPLAY=xserver,
        QT_QPA_PLATFORM="xcb",
        HOME=str(home),  # settings and the recovery folder of a first launch, not the user's
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_RUNTIME_DIR=str(tmp_path),
        SKIPWIRE_NEED_XDOTOOL="1",
    )
    proc = subprocess.run(
        [sys.executable, str(DRIVER), str(project), "layer1_0"],
        cwd=ROOT,
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "shown platform=xcb" in out, out
    assert "clicked layer1_0 with xdotool" in out, out
    assert "selected layer1_0" in out, out
    assert "closed, exit code 0" in out, out
    assert "Traceback" not in out, out
