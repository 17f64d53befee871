"""Import speed (issue 12): ``main.py import`` of resnet50, from process start to the project written.

    python bench/bench_import.py [--repeat 3] [--target MODULE:CALLABLE] [--input C,H,W]

Each run is a child process, timed from just before it is spawned, so the figure includes the
interpreter's start and importing torch, as a user sees it. The baseline, measured in the same run
and the same way, is a child that only imports torch (``python -c "import torch"``): the part of
the import no Skipwire code can shorten. The default target is torchvision's resnet50 as the test
fixture copies it (tests/codegen/fixtures/tv_resnet.py; no torchvision needed), at 3x224x224.

``--before OLD/main.py`` also times an older checkout (``git archive COMMIT | tar -x -C OLD``),
interleaved with the others so that they share the machine's load.

Goal: under 5 s on the development machine (2 shared cores).
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


def _timed(cmd: list[str], cwd: str) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    took = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-500:]}")
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--target", default="tv_resnet:resnet50")
    ap.add_argument("--input", default="3,224,224")
    ap.add_argument("--before", metavar="MAIN_PY", help="also time an older checkout's main.py, interleaved")
    args = ap.parse_args()
    fixtures = str(ROOT / "tests" / "codegen" / "fixtures")
    baseline, runs, before = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "imported.skipwire")
        tail = ["import", args.target, "-o", out, "--input", args.input]
        for _ in range(args.repeat):
            baseline.append(_timed([sys.executable, "-c", "import torch"], fixtures))
            runs.append(_timed([sys.executable, str(ROOT / "main.py"), *tail], fixtures))
            if args.before:
                before.append(_timed([sys.executable, args.before, *tail], fixtures))
    b, r = statistics.median(baseline), statistics.median(runs)
    print(f"import torch only:       median {b:.2f} s  (runs {', '.join(f'{x:.2f}' for x in baseline)})")
    print(f"main.py import {args.target}: median {r:.2f} s  (runs {', '.join(f'{x:.2f}' for x in runs)})")
    print(f"ratio import / torch start-up: {r / b:.2f}; Skipwire's own share: {r - b:.2f} s")
    if before:
        o = statistics.median(before)
        print(f"before ({args.before}): median {o:.2f} s  (runs {', '.join(f'{x:.2f}' for x in before)})")
        print(f"Skipwire's own share before: {o - b:.2f} s; now / before: {r / o:.2f}")
    try:
        print(f"load average: {os.getloadavg()[0]:.1f}")
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
