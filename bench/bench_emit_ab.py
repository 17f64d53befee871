"""Emit throughput of two checkouts, side by side (A/B), for a refactor's "within noise" check.

``python bench/bench_emit_ab.py BEFORE_DIR AFTER_DIR [--runs 4] [--repeat 30]`` runs, alternating, one
process per checkout and round, each timing ``emit(project, analysis)`` for resnet152, densenet121 and
dpn26: process CPU time (blind to waiting for a core on a shared machine), median and best of
``--repeat``. Prints each round and the after/before ratio of the medians of the per-round medians and
of the best-of-all. BEFORE_DIR can be ``git archive <commit> | tar -x -C DIR`` of the commit before.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

TEMPLATES = ("resnet152", "densenet121", "dpn26")
_CHILD = """
import json, statistics, sys, time
sys.path.insert(0, ".")
from codegen.emitter import emit
from graph.shapes import analyze
from graph.templates import make
out = {}
for name in %r:
    p = make(name); a = analyze(p); emit(p, a)
    ts = []
    for _ in range(%d):
        t = time.process_time(); emit(p, a); ts.append(time.process_time() - t)
    out[name] = [statistics.median(ts), min(ts)]
print(json.dumps(out))
"""


def run(folder: Path, repeat: int) -> dict:
    code = _CHILD % (TEMPLATES, repeat)
    cmd = [sys.executable, "-c", code]
    done = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    results: dict[str, list[dict]] = {"before": [], "after": []}
    for r in range(args.runs):
        order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
        for which in order:
            res = run(getattr(args, which), args.repeat)
            results[which].append(res)
            cells = ", ".join(f"{t} {res[t][0] * 1e3:.1f}/{res[t][1] * 1e3:.1f}" for t in TEMPLATES)
            print(f"round {r + 1} {which:6s} (median/best ms CPU): {cells}", flush=True)
    for t in TEMPLATES:
        med = {w: statistics.median(x[t][0] for x in results[w]) for w in results}
        best = {w: min(x[t][1] for x in results[w]) for w in results}
        print(
            f"{t}: median {med['before'] * 1e3:.2f} -> {med['after'] * 1e3:.2f} ms "
            f"(after/before {med['after'] / med['before']:.3f}); best {best['before'] * 1e3:.2f} -> "
            f"{best['after'] * 1e3:.2f} ms ({best['after'] / best['before']:.3f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
