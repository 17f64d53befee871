"""The Sweep tab on a Ray cluster (app/training_ui/sweep_ray_runner.py): the backend and address
remembered in the settings; the sweep as a child process whose log lines give each trial's state;
Stop (SIGINT) and a second Stop (kill); the CLI's message when Ray is missing; and one sweep on a
real local Ray instance. The child here is a stand-in (tests/app/fake_ray_sweep.py) that prints
the lines training/sweep_ray.py logs, except in the last test."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import pytest

from app.document import Document
from app.settings import Settings
from app.training_ui import TrainingPanel
from app.training_ui.sweep_ray_runner import TrialStates, parse_line, sweep_command

FAKE = Path(__file__).with_name("fake_ray_sweep.py")
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)  # tests that start children


def tiny_project():
    sys.path.insert(0, str(ROOT / "tests" / "training"))
    from test_sweep import staged_tiny  # a network that trains in a second or two

    return staged_tiny()


def make_panel(qtbot, tmp_path, settings=None) -> TrainingPanel:
    panel = TrainingPanel(
        Document(tiny_project()),
        runs_dir=tmp_path / "runs",
        settings=settings or Settings(tmp_path / "settings.ini"),
        factory=lambda *a, **k: pytest.fail("a Ray sweep never uses the Training tab's controller"),
    )
    qtbot.addWidget(panel)
    panel.resize(1500, 800)
    panel.show()
    return panel


def ray_panel(qtbot, tmp_path, depth: str = "1,2", address: str = "ray://head:10001"):
    panel = make_panel(qtbot, tmp_path)
    sp = panel.sweep
    sp.ray.backend.setCurrentIndex(sp.ray.backend.findData("ray"))
    sp.ray.address.setText(address)
    sp.fields["depth"].setText(depth)
    panel.form.epochs.setValue(2)
    assert sp.refresh_preview()
    return panel, sp


def use_fake(sp, tmp_path, script: dict) -> list:
    """The tab's sweep command is the fake with ``script``; returns the commands the tab asked for."""
    asked = []
    path = tmp_path / "script.json"
    path.write_text(json.dumps(script))

    def command(out, address):
        asked.append(sweep_command(out, address))
        return [sys.executable, str(FAKE), str(out), str(path)]

    sp.ray.command_for = command
    return asked


def states(sp) -> list[str]:
    return [sp.table.item(i, 4).text() if sp.table.item(i, 4) else "" for i in range(sp.table.rowCount())]


# ------------------------------------------------------------------ the log's lines
def test_each_trials_state_follows_the_ray_backends_log_lines() -> None:
    """Lines as training/sweep_ray.py writes them (the first six copied from a real run here)."""
    log = [
        "Ray on this machine: 1 node(s), 2 CPUs, 0 GPUs (connected in 4.8 s)",
        "[1/3] depth=1: 1,280 parameters -> /tmp/sw/01-depth-1-r1 on Ray (1 CPU)",
        "[2/3] depth=2: 2,768 parameters -> /tmp/sw/02-depth-2-r1 on Ray (1 CPU, 0.25 GPU)",
        "  depth=1: started on 192.0.2.2",
        "  depth=1: epoch 1 val acc 25.00%",
        "  depth=2: started on 192.0.2.3",
    ]
    s = TrialStates(["depth=1", "depth=2", "depth=3"], repeats=1, epochs=2)
    assert [s.text(i) for i in range(3)] == ["queued"] * 3
    for line in log:
        if (ev := parse_line(line)) is not None:
            s.apply(ev)
    assert [s.text(i) for i in range(3)] == [
        "epoch 1/2",
        "running on 192.0.2.3",
        "queued",
    ]
    assert s.tooltip(0) == "epoch 1/2 on 192.0.2.2"
    assert parse_line(log[2]).detail == "1 CPU, 0.25 GPU"
    more = [
        "  depth=1: done, best val acc 25.00%",
        "  depth=2: its Ray worker was lost (ActorDiedError: gone); running it again from the start",
        "[3/4] depth=2: resuming /tmp/sw/02-depth-2-r1 on Ray (1 CPU)",
        "stopping: 1 trial(s) not started",
        "  depth=2: stopped: stopped by the user",
    ]
    seen = []
    for line in more:
        ev = parse_line(line)
        s.apply(ev)
        seen.append([s.text(i) for i in range(3)])
    assert seen[0][0] == "done"
    assert seen[1][1] == "worker lost; again from the start"
    assert seen[2][1] == "starting (1 CPU)"
    assert seen[3] == ["done", "starting (1 CPU)", "not started"]
    assert seen[4] == ["done", "stopped", "not started"]
    assert s.counts() == {"done": 1, "stopped": 1, "not started": 1}
    assert parse_line("wrote /tmp/sw/sweep.csv, /tmp/sw/pareto.png and /tmp/sw/pareto.svg") is None


def test_repeats_name_each_trial_and_a_killed_sweep_interrupts_the_running_ones() -> None:
    from training.sweep_ray import trial_name

    assert trial_name("depth=1", 0, 1) == "depth=1"
    assert trial_name("depth=1", 1, 3) == "depth=1 (repeat 2)"
    s = TrialStates(["depth=1"], repeats=3)
    for line in (
        "[1/3] depth=1 (repeat 1): 1,280 parameters -> /sw/01-depth-1-r1 on Ray (1 CPU)",
        "[2/3] depth=1 (repeat 2): 1,280 parameters -> /sw/01-depth-1-r2 on Ray (1 CPU)",
        "  depth=1 (repeat 1): started on 10.0.0.7",
        "  depth=1 (repeat 2): failed: it needs 1 CPU, 1 GPU and no node of the Ray cluster has that",
    ):
        s.apply(parse_line(line))
    assert s.text(0) == "#1 running\n#2 failed\n#3 queued"  # one line each in the narrow column
    assert s.tooltip(0) == (
        "repeat 1: running on 10.0.0.7\n"
        "repeat 2: failed: it needs 1 CPU, 1 GPU and no node of the Ray cluster has that\n"
        "repeat 3: queued"
    )
    assert s.ended(killed=True) == [(0, 0), (0, 2)]
    assert s.text(0) == "#1 interrupted\n#2 failed\n#3 not started"
    one = TrialStates(["depth=1", "depth=2"], repeats=2)
    one.apply(parse_line("stopping: 4 trial(s) not started"))
    assert one.text(0) == one.text(1) == "not started"  # repeats that agree: one word


def test_the_command_is_the_clis_resume_of_the_tabs_sweep_folder(tmp_path) -> None:
    base = [sys.executable, str(ROOT / "main.py"), "sweep", "--resume", str(tmp_path), "--backend", "ray"]
    assert sweep_command(tmp_path, "auto") == [*base, "--address", "auto"]
    assert sweep_command(tmp_path, " ray://10.0.0.1:10001 ") == [*base, "--address", "ray://10.0.0.1:10001"]
    assert sweep_command(tmp_path, "") == base  # a Ray instance of this machine
    assert sweep_command(tmp_path, "local") == base


# ------------------------------------------------------------------ settings
def test_the_backend_and_address_are_remembered(qtbot, tmp_path) -> None:
    path = tmp_path / "settings.ini"
    fresh = Settings(path)
    assert fresh.sweep_backend() == "local" and fresh.ray_address() == "auto"
    panel = make_panel(qtbot, tmp_path, Settings(path))
    ray = panel.sweep.ray
    assert not ray.chosen() and ray.address.text() == "auto"
    assert panel.sweep.table.isColumnHidden(4)  # no State column for this machine's sweeps
    ray.backend.setCurrentIndex(ray.backend.findData("ray"))
    assert not panel.sweep.table.isColumnHidden(4)
    ray.address.setText("ray://10.1.2.3:10001")
    Settings(path).sync()
    again = Settings(path)
    assert again.sweep_backend() == "ray" and again.ray_address() == "ray://10.1.2.3:10001"
    second = make_panel(qtbot, tmp_path / "b", Settings(path)).sweep.ray
    assert second.chosen() and second.address.text() == "ray://10.1.2.3:10001"
    again.set_sweep_backend("nonsense")
    assert again.sweep_backend() == "local"


# ------------------------------------------------------------------ the sweep's process
def test_a_ray_sweep_shows_each_trials_state_and_loads_its_results(qtbot, tmp_path) -> None:
    panel, sp = ray_panel(qtbot, tmp_path)
    asked = use_fake(
        sp,
        tmp_path,
        {
            "steps": [
                {
                    "say": [
                        "Ray at ray://head:10001: 2 node(s), 4 CPUs, 0 GPUs (connected in 1.0 s)",
                        "[1/2] depth=1: 1,280 parameters -> {out}/01-depth-1-r1 on Ray (1 CPU)",
                        "[2/2] depth=2: 2,768 parameters -> {out}/02-depth-2-r1 on Ray (1 CPU)",
                        "  depth=1: started on 10.0.0.2",
                    ]
                },
                {"wait": "go"},
                {"say": ["  depth=1: epoch 1 val acc 40.00%"]},
                {"wait": "go2"},
                {"run": "01-depth-1-r1", "acc": 0.625},
                {
                    "say": [
                        "  depth=1: epoch 2 val acc 62.50%",
                        "  depth=1: done, best val acc 62.50%",
                        "  depth=2: failed: it needs 1 CPU, 1 GPU and no node of the Ray cluster has that",
                        "1 of 2 runs did not finish; sweep --resume {out} retries them",
                    ]
                },
                {"exit": 1},
            ]
        },
    )
    assert sp.start_button.isEnabled()
    assert sp.start()
    out = sp.sweep_dir
    assert asked == [sweep_command(out, "ray://head:10001")]
    assert "--resume" in asked[0] and (out / "sweep.json").exists()  # the tab's own spec, as for local runs
    assert not panel.controller.busy
    assert not sp.start_button.isEnabled() and sp.stop_button.isEnabled()
    assert not sp.ray.backend.isEnabled()
    qtbot.waitUntil(lambda: states(sp) == ["running on 10.0.0.2", "starting (1 CPU)"], timeout=20_000)
    assert "1 running, 1 starting" in sp.message.text() and "sweep.log" in sp.message.text()
    (out / "go").write_text("")
    qtbot.waitUntil(lambda: states(sp)[0] == "epoch 1/2", timeout=20_000)
    assert sp.table.item(0, 4).toolTip() == "epoch 1/2 on 10.0.0.2"
    (out / "go2").write_text("")
    qtbot.waitUntil(lambda: not sp.ray.running(), timeout=20_000)
    assert states(sp) == ["done", "failed: it needs 1 CPU, 1 GPU and no node of…"]  # cut in the cell
    assert sp.table.item(1, 4).toolTip() == (
        "failed: it needs 1 CPU, 1 GPU and no node of the Ray cluster has that"
    )
    assert sp.table.item(0, 3).text() == "62.5%"
    assert len(sp.points) == 1 and len(sp._scatter.points()) == 1
    # the fake wrote no sweep.csv (as a sweep killed before its end): the tab wrote it from the run folders
    with open(out / "sweep.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["config"], r["runs_done"]) for r in rows] == [("depth=1", "1"), ("depth=2", "0")]
    assert sp.message.text() == (
        "1 of 2 runs finished; sweep.csv and pareto.png in its folder. Some runs did not finish (see "
        f"State); retry them with: python main.py sweep --resume {out} --backend ray --address ray://head:10001"
    )
    assert sp.message.property("role") == "error"
    assert "depth=1: done" in (out / "sweep.log").read_text()
    assert sp.start_button.isEnabled() and not sp.stop_button.isEnabled() and sp.ray.backend.isEnabled()
    sp.ray.backend.setCurrentIndex(sp.ray.backend.findData("local"))  # back to this machine's sweeps
    assert sp.table.isColumnHidden(4) and sp.table.horizontalHeaderItem(1).text() == "Parameters"


STARTED = [
    "[1/3] depth=1: 1,280 parameters -> {out}/01-depth-1-r1 on Ray (1 CPU)",
    "[2/3] depth=2: 2,768 parameters -> {out}/02-depth-2-r1 on Ray (1 CPU)",
    "  depth=1: started on 10.0.0.2",
    "  depth=2: started on 10.0.0.3",
]


def test_stop_interrupts_the_sweep_and_every_trial_stops(qtbot, tmp_path) -> None:
    _panel, sp = ray_panel(qtbot, tmp_path, depth="1,2,3")
    use_fake(
        sp,
        tmp_path,
        {
            "steps": [{"say": STARTED}, {"wait": "never"}],
            "on_sigint": {
                "say": [
                    "",
                    "stopping after this step (Ctrl-C again to interrupt at once)",
                    "stopping: 1 trial(s) not started",
                    "  depth=1: stopped: stopped by the user",
                    "  depth=2: stopped: stopped by the user",
                    "stopped with 3 of 3 runs unfinished; continue with: sweep --resume {out}",
                ],
                "exit": 0,
            },
        },
    )
    assert sp.start()
    out = sp.sweep_dir
    qtbot.waitUntil(lambda: states(sp)[1] == "running on 10.0.0.3", timeout=20_000)
    sp.stop_button.click()
    qtbot.waitUntil(lambda: not sp.ray.running(), timeout=20_000)
    assert (out / "sigint-1").exists() and not (out / "sigint-2").exists()
    assert states(sp) == ["stopped", "stopped", "not started"]
    assert sp.message.text() == (
        "0 of 3 runs finished; sweep.csv and pareto.png in its folder. Stopped; continue with: python "
        f"main.py sweep --resume {out} --backend ray --address ray://head:10001"
    )
    assert sp.message.property("role") != "error"
    assert sp.start_button.isEnabled() and not sp.stop_button.isEnabled()


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status  # a zombie has ended (its new parent reaps it)


def test_a_second_stop_kills_the_sweep_and_its_processes(qtbot, tmp_path) -> None:
    _panel, sp = ray_panel(qtbot, tmp_path)
    steps = [{"child": True}, {"say": STARTED[:1] + STARTED[2:3]}, {"wait": "never"}]
    use_fake(sp, tmp_path, {"steps": steps})
    assert sp.start()
    out = sp.sweep_dir
    qtbot.waitUntil(lambda: states(sp)[0] == "running on 10.0.0.2", timeout=20_000)
    grandchild = int((out / "grandchild.pid").read_text())
    sp.stop_button.click()
    qtbot.waitUntil(lambda: (out / "sigint-1").exists(), timeout=20_000)
    assert sp.ray.running() and sp.stop_button.isEnabled()  # its step never ends
    assert "Stop again kills it" in sp.message.text()
    sp.stop_button.click()
    qtbot.waitUntil(lambda: not sp.ray.running(), timeout=20_000)
    assert sp.ray.exit_code < 0
    assert states(sp) == ["interrupted", "not started"]
    assert sp.message.text().endswith(
        f"The sweep was killed; continue it with: python main.py sweep --resume {out} --backend ray "
        "--address ray://head:10001"
    )
    qtbot.waitUntil(lambda: _gone(grandchild), timeout=20_000)  # its process group went with it
    assert (out / "sweep.csv").exists()  # written by the tab, from what came back


def test_without_ray_the_tab_shows_the_clis_message(qtbot, tmp_path) -> None:
    """The real command line, with `import ray` failing as where the extra is not installed."""
    _panel, sp = ray_panel(qtbot, tmp_path)
    code = (
        "import runpy, sys; sys.modules['ray'] = None; sys.argv = sys.argv[1:]; "
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    sp.ray.command_for = lambda out, address: [sys.executable, "-c", code, *sweep_command(out, address)[1:]]
    assert sp.start()
    out = sp.sweep_dir
    qtbot.waitUntil(lambda: not sp.ray.running(), timeout=60_000)
    assert sp.ray.exit_code == 2
    assert sp.message.text() == "--backend ray needs Ray, which is not installed: pip install 'skipwire[ray]'"
    assert sp.message.property("role") == "error"
    assert not out.exists()  # refused before anything trained: the folder the tab made is gone
    assert sp.start_button.isEnabled()


# ------------------------------------------------------------------ a real local Ray instance
@pytest.mark.timeout(300)  # a Ray cluster under a CPU hog is slow to start its trials
@pytest.mark.xdist_group("ray")  # the worker that holds tests/training/test_sweep_ray.py's cluster
def test_a_sweep_on_a_local_ray_instance(qtbot, tmp_path) -> None:
    """The real command line starts a Ray instance of this machine (the address left empty) and trains
    two configurations; the tab follows every trial to done and loads sweep.csv and the chart."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("Ray is not installed; CI installs it with the test extra (pip install -e '.[test]')")
        pytest.skip("Ray is not installed (pip install 'skipwire[ray]')")
    panel, sp = ray_panel(qtbot, tmp_path, depth="1,2", address="")
    panel.form.epochs.setValue(1)
    panel.form.batch_size.setValue(2500)
    assert sp.start()
    out = sp.sweep_dir
    assert "--address" not in sweep_command(out, "")
    qtbot.waitUntil(lambda: not sp.ray.running(), timeout=100_000)
    log = (out / "sweep.log").read_text()
    assert sp.ray.exit_code == 0, log
    assert states(sp) == ["done", "done"], log
    assert "  depth=1: started on " in log and "  depth=2: epoch 1 val acc " in log  # the states' lines
    with open(out / "sweep.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["config"], r["runs_done"], r["status"]) for r in rows] == [
        ("depth=1", "1", "completed"),
        ("depth=2", "1", "completed"),
    ]
    assert [sp.table.item(i, 3).text() for i in range(2)] == [f"{float(r['best_val_acc']):.1%}" for r in rows]
    assert len(sp.points) == 2 and (out / "pareto.png").exists()
    assert "2 of 2 runs finished" in sp.message.text()


def test_the_sweep_tab_does_not_import_ray() -> None:
    import subprocess

    code = (
        "import sys; from app.training_ui import sweep_panel, sweep_ray_runner; "
        "from app.training_ui.sweep_ray_runner import TrialStates; TrialStates(['a'], 2); "
        "print('ray' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"


def test_the_window_keeps_the_choice_in_its_settings_and_closing_stops_the_sweep(
    qtbot, tmp_path, make_window, settings
) -> None:
    settings.set_sweep_backend("ray")
    settings.set_ray_address("ray://10.9.8.7:10001")
    w = make_window(tiny_project())
    sp = w.training_panel.sweep
    assert sp.ray.chosen() and sp.ray.address.text() == "ray://10.9.8.7:10001"
    sp.fields["depth"].setText("1,2")
    assert sp.refresh_preview()
    use_fake(sp, tmp_path, {"steps": [{"say": STARTED[:1] + STARTED[2:3]}, {"wait": "never"}]})
    assert sp.start()
    out = sp.sweep_dir
    qtbot.waitUntil(lambda: states(sp)[0] == "running on 10.0.0.2", timeout=20_000)
    w.close()  # asks nothing: the Training tab's controller is idle
    qtbot.waitUntil(lambda: (out / "sigint-1").exists(), timeout=20_000)  # the sweep was told to stop
    sp.ray.process.kill()  # the stand-in's step never ends
    qtbot.waitUntil(lambda: not sp.ray.running(), timeout=20_000)
