"""Regenerate the editor screenshots in docs/screenshots/ (offscreen, 1600x1000).

    python bench/shoot_editor.py

Each shot is ``python main.py open FILE --screenshot PNG`` in a child process
(the first-launch shot calls run_editor(None, PNG)), with the documented
screenshot knobs SKIPWIRE_THEME, SKIPWIRE_TAB and SKIPWIRE_SELECT.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
sys.path.insert(0, str(ROOT))


def main() -> None:
    from graph.projectfile import save_project
    from graph.templates import make

    tmp = Path(tempfile.mkdtemp(prefix="skipwire-shots-"))
    r20 = tmp / "resnet20.skipwire"
    save_project(make("resnet20"), r20)
    broken = make("resnet20")  # the shortcut of BasicBlock set to identity: stride-2 instances mismatch
    body = broken.blocks["BasicBlock"].graph
    edge = next(e for e in body.edges.values() if e.is_shortcut)
    body.set_edge_field(edge.id, "projection", "identity")
    mismatch = tmp / "resnet20_mismatch.skipwire"
    save_project(broken, mismatch)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp))
    shots = [
        ("editor_first_launch.png", None, {}),
        ("editor_problems.png", mismatch, {"SKIPWIRE_TAB": "problems"}),
        ("editor_code.png", r20, {"SKIPWIRE_TAB": "code", "SKIPWIRE_SELECT": "layer2_0"}),
        (
            "editor_light.png",
            r20,
            {"SKIPWIRE_THEME": "light", "SKIPWIRE_TAB": "summary", "SKIPWIRE_SELECT": "conv1"},
        ),
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    for name, path, knobs in shots:
        out = OUT / name
        if path is None:
            code = (
                f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
                f"from app.main_window import run_editor; sys.exit(run_editor(None, {str(out)!r}))"
            )
            cmd = [sys.executable, "-c", code]
        else:
            cmd = [sys.executable, str(ROOT / "main.py"), "open", str(path), "--screenshot", str(out)]
        r = subprocess.run(
            cmd, env={**env, **knobs}, capture_output=True, text=True, timeout=120, check=False
        )
        print(f"{name}: exit {r.returncode}, {out.stat().st_size if out.exists() else 0:,} bytes")


if __name__ == "__main__":
    main()
