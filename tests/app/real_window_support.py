"""What every real-window test shares: an X server (Xvfb) of a given size, the editor's environment
for a first launch on it, a driver script run as a child, and the tiny network they train.

Where Xvfb, xdotool or a library Qt's xcb plugin needs is missing, a test skips on a developer machine
and FAILS in CI (CI=true): there it must run, never pass by skipping.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import preflight
from graph.model import Project

ROOT = Path(__file__).resolve().parents[2]


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"the real-window test cannot run in CI: {reason} (.ci/run installs it with apt-get)")
    pytest.skip(reason)


@contextlib.contextmanager
def xvfb(size: str = "1600x1000") -> Iterator[str]:
    """A fresh Xvfb of ``size`` on a free display (-displayfd picks it); yields the DISPLAY string."""
    exe = shutil.which("Xvfb")
    if exe is None:
        unavailable("Xvfb is not installed")
    if shutil.which("xdotool") is None:
        unavailable("xdotool is not installed")
    problem = preflight.problem({"QT_QPA_PLATFORM": "xcb"})
    if problem:
        unavailable(problem)
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [exe, "-displayfd", str(write_fd), "-screen", "0", f"{size}x24", "-nolisten", "tcp"],
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


def editor_env(display: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a first launch on ``display``: settings, recovery folder and caches in
    ``tmp_path``, not the user's; no Qt or XDG variable of this process leaks in."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("QT_", "XDG_", "WAYLAND")) and k != "DISPLAY"
    }
    env.update(
        DISPLAY=display,
        QT_QPA_PLATFORM="xcb",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_RUNTIME_DIR=str(tmp_path),
        **extra,
    )
    return env


def run_driver(driver: Path, args: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run a driver script (tests/app/real_window_*.py) as a child; (exit code, its output)."""
    proc = subprocess.run(
        [sys.executable, str(driver), *args],
        cwd=ROOT,
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc.returncode, proc.stdout + proc.stderr[-3000:]


def tiny_project(name: str = "Tiny") -> Project:
    """conv-bn-relu-pool-linear on 1x8x8: trains in a moment on the synthetic data."""
    p = Project(name)
    g = p.graph
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
    return p
