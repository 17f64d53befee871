"""What the import's self-check (issue 22) costs on resnet50, part by part, in one process.

    python bench/bench_import_check.py [--repeat 5]

Torch is imported once; each repeat builds torchvision's resnet50 as the test fixture copies it
(tests/codegen/fixtures/tv_resnet.py), imports it without the check (the baseline, same run), then
times the check's parts: emitting the code and building the module on the meta device with the
weights assigned, the model's forward, the export's forward (one seeded 3x224x224 sample, one
thread), and the whole ``self_check``. Prints medians and the ratio check / import.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests" / "codegen" / "fixtures"))
    import torch
    import tv_resnet

    from codegen import import_check
    from codegen.fx_import import import_module

    rows: dict[str, list[float]] = {k: [] for k in ("import", "build", "model", "export", "check")}
    for _ in range(args.repeat):
        model = tv_resnet.resnet50().eval()
        t0 = time.perf_counter()
        result = import_module(model, (3, 224, 224), check=False)
        rows["import"].append(time.perf_counter() - t0)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        with torch.no_grad():
            t0 = time.perf_counter()
            built, _ = import_check.build_loaded(result.project, model.state_dict(), derive=True)
            t1 = time.perf_counter()
            x = torch.randn(1, 3, 224, 224)
            model(x)
            t2 = time.perf_counter()
            built(x)
            t3 = time.perf_counter()
        torch.set_num_threads(threads)
        rows["build"].append(t1 - t0)
        rows["model"].append(t2 - t1)
        rows["export"].append(t3 - t2)
        rows["check"].append(import_check.self_check(result.project, model, (3, 224, 224)).seconds)
    med = {k: statistics.median(v) for k, v in rows.items()}
    for k, v in rows.items():
        print(f"{k:7s} median {med[k]:.2f} s  (runs {', '.join(f'{x:.2f}' for x in v)})")
    print(f"ratio self-check / import without it: {med['check'] / med['import']:.2f}")
    try:
        import os

        print(f"load average: {os.getloadavg()[0]:.1f}")
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
