"""A stand-in for ``main.py sweep --resume DIR --backend ray`` (tests/app/test_sweep_ray_tab.py).

``python fake_ray_sweep.py DIR SCRIPT.json`` plays SCRIPT's steps, printing the lines that
training/sweep_ray.py logs to stderr:

- ``{"say": [line, ...]}`` prints the lines;
- ``{"wait": NAME}`` waits until DIR/NAME exists (the test creates it once it has seen the state so far);
- ``{"run": DIRNAME, "acc": 0.6}`` leaves a finished run folder, as a trial that came back;
- ``{"child": true}`` starts a grandchild that sleeps (its pid in DIR/grandchild.pid), as Ray's own
  processes of a local instance;
- ``{"exit": CODE}`` ends.

SIGINT writes DIR/sigint-N (N counts them); with ``"on_sigint": {"say": [...], "exit": 0}`` the first
one prints those lines and exits, without it the fake goes on waiting (a step that never ends), so only
a kill ends it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

out, script = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text())
interrupts = []


def say(lines) -> None:
    for line in lines:
        sys.stderr.write(line.replace("{out}", str(out)) + "\n")
        sys.stderr.flush()


def on_sigint(_signum, _frame) -> None:
    interrupts.append(1)
    (out / f"sigint-{len(interrupts)}").write_text("")
    reply = script.get("on_sigint")
    if reply is not None and len(interrupts) == 1:
        say(reply["say"])
        sys.exit(reply["exit"])
    say(["", "stopping after this step (Ctrl-C again to interrupt at once)"])


def leave_run(name: str, acc: float) -> None:
    from training import runs
    from training.metrics import MetricsWriter, record

    run = out / name
    spec = json.loads((out / "sweep.json").read_text())
    runs.create_run(run, spec["project"], {"epochs": 1, "dataset": "synthetic"}, "# model\n", {})
    w = MetricsWriter(run / "metrics.jsonl")
    w.write(record("epoch", epoch=1, step=1, train_loss=1.0, train_acc=acc, val_loss=1.0, val_acc=acc))
    w.close()
    runs.update_run_meta(run, status="completed", epochs_done=1, best_val_acc=acc, last_val_acc=acc)


signal.signal(signal.SIGINT, on_sigint)
for step in script["steps"]:
    if "say" in step:
        say(step["say"])
    elif "wait" in step:
        while not (out / step["wait"]).exists():
            time.sleep(0.02)
    elif "run" in step:
        leave_run(step["run"], step["acc"])
    elif "child" in step:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        (out / "grandchild.pid").write_text(str(child.pid))
    elif "exit" in step:
        sys.exit(step["exit"])
