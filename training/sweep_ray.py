"""The Ray backend of sweeps (``sweep ... --backend ray [--address auto|ray://HOST:10001]``).

training/sweep.py plans, checks and summarizes as for the local pool and hands the runs still to
do to ``run_trials``. Each trial is a Ray actor (training/sweep_ray_trial.py) that calls the same
engine entry as the local pool's child process, asking Ray for the resources the trial needs:

- on a cluster without GPUs (or ``--device cpu``): ``--trial-cpus`` CPUs (default 1), and torch
  uses as many threads;
- with GPUs: a whole GPU for the first trial; once a trial has finished, the peak memory it
  measured, scaled by each configuration's cost estimate (``Config.cost_estimate``, as the
  local ``--parallel auto``), plus a CUDA context, as a fraction of the GPU (in steps of 0.05).

A request no node can meet fails that trial with the reason instead of waiting for ever. The driver
starts only as many trials as the cluster's free resources hold, so later requests can use what
the first trial measured.

The run folders come back as bytes (training/run_archive.py) after every checkpoint and at the end,
and replace the sweep folder's copy all at once: ``--resume``, the Sweep tab and ``runs`` read
the same folder as after a local sweep. Stop (Ctrl-C, or ``should_stop``) asks every running trial
to stop after its step (it saves a checkpoint and comes back "stopped"), starts no more, and drops
trials that had not started. A trial whose worker is lost (the process or the node died) runs once
more, from the last checkpoint that came back, then is marked failed with the reason.

Ray is imported here only, and this module only when the Ray backend is chosen.
"""

from __future__ import annotations

import logging
import math
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.errors import UserError

EXTRA = "pip install 'skipwire[ray]'"
MAX_ATTEMPTS = 2  # a trial whose worker was lost runs once more, then is marked failed
WAIT_S = 0.2  # the driver's longest wait for news from the trials
STOP_GRACE_S = 5.0  # how long a stop request may go unanswered before the trial's actor is killed
GPU_STEP = 0.05
PACKAGES = ("graph", "codegen", "training")  # shipped to the workers, so they run this very code


def import_ray():
    try:
        import ray
    except ImportError:
        raise UserError(f"--backend ray needs Ray, which is not installed: {EXTRA}", 2) from None
    return ray


def check_options(address: str | None = None, trial_cpus: int = 1) -> None:
    """Ray installed and the options sound (exit 2 otherwise), before anything is written."""
    import_ray()
    if isinstance(trial_cpus, bool) or not isinstance(trial_cpus, int) or trial_cpus < 1:
        raise UserError(f"--trial-cpus must be a whole number of at least 1; got {trial_cpus!r}")
    if address is not None and not isinstance(address, str):
        raise UserError(f"--address must be auto, HOST:PORT or ray://HOST:10001; got {address!r}")


def runtime_env() -> dict:
    """The project's own packages go to every worker (the workers need torch and the other
    dependencies installed, as a machine that runs Skipwire has)."""
    root = Path(__file__).resolve().parent.parent
    return {"py_modules": [str(root / p) for p in PACKAGES], "excludes": ["__pycache__", "*.pyc"]}


def connect(address: str | None, log) -> tuple[Any, bool]:
    """Ray, and whether this call started the connection (then ``ray.shutdown()`` ends it)."""
    ray = import_ray()
    if ray.is_initialized():
        return ray, False
    started = time.perf_counter()
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    if not address:  # a Ray instance of this machine only: its servers on the loopback address
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        if address:
            ray.init(address=address, runtime_env=runtime_env(), **quiet)
        else:
            ray.init(runtime_env=runtime_env(), include_dashboard=False, **quiet)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        where = f"at {address}" if address else "on this machine"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = ""
        if address and address.startswith("ray://") and os.environ.get("RAY_AUTH_MODE") != "token":
            hint = (
                "; a cluster with token authentication (Ray's default) needs RAY_AUTH_MODE=token and its "
                "token in ~/.ray/auth_token here"
            )
        raise UserError(
            f"--backend ray: cannot start or reach a Ray cluster {where} ({first}){hint}", 2
        ) from None
    res = ray.cluster_resources()
    log(
        f"Ray {'at ' + address if address else 'on this machine'}: {len(_alive_nodes(ray))} node(s), "
        f"{res.get('CPU', 0):g} CPUs, {res.get('GPU', 0):g} GPUs "
        f"(connected in {time.perf_counter() - started:.1f} s)"
    )
    return ray, True


def _alive_nodes(ray) -> list[dict]:
    return [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]


# ------------------------------------------------------------------ resources
def trial_resources(
    config, device: str, cluster_gpus: float, trial_cpus: int, measured: tuple[float, float, float] | None
) -> dict:
    """What one trial asks of Ray: ``{"num_cpus": .., "num_gpus": ..}`` (see the module doc)."""
    if device in ("cpu", "mps") or cluster_gpus <= 0:
        return {"num_cpus": trial_cpus, "num_gpus": 0}
    if measured is None:
        return {"num_cpus": 1, "num_gpus": 1}
    from training.sweep import CONTEXT_MB

    peak_mb, cost, total_mb = measured
    need = CONTEXT_MB + peak_mb * max(1.0, config.cost_estimate() / cost)
    return {"num_cpus": 1, "num_gpus": min(1.0, math.ceil(need / total_mb / GPU_STEP) * GPU_STEP)}


def _feasible(request: dict, nodes: list[dict]) -> bool:
    return any(
        n.get("CPU", 0) >= request["num_cpus"] and n.get("GPU", 0) >= request["num_gpus"] - 1e-9
        for n in nodes
    )


def _fits(request: dict, free: dict) -> bool:
    return free["CPU"] >= request["num_cpus"] - 1e-9 and free["GPU"] >= request["num_gpus"] - 1e-9


def _describe(request: dict) -> str:
    gpus = f", {request['num_gpus']:g} GPU" if request["num_gpus"] else ""
    return f"{request['num_cpus']:g} CPU{'s' if request['num_cpus'] != 1 else ''}{gpus}"


# ------------------------------------------------------------------ the driver
def trial_name(label: str, repeat: int, repeats: int) -> str:
    """How the log names a trial: its configuration's label, and with ``--repeats`` above 1 its
    repeat ("depth=3 (repeat 2)"), so every line names one trial (the Sweep tab reads them)."""
    return f"{label} (repeat {repeat + 1})" if repeats > 1 else label


@dataclass
class _Flight:
    task: Any  # training.sweep._Task
    actor: Any
    ref: Any
    request: dict
    number: int
    poll_ref: Any = None
    snap_ref: Any = None
    snap_seen: int = 0
    started: bool = False
    stop_ref: Any = None
    stop_asked: float | None = None
    epochs: list[int] = field(default_factory=list)


def run_trials(
    todo: list,
    spec: dict,
    out: Path,
    log,
    should_stop,
    finished_one,
    *,
    address: str | None = None,
    trial_cpus: int = 1,
) -> list:
    """Train ``todo`` (training.sweep._Task) on Ray; returns the tasks that failed."""
    from training.run_archive import recover

    check_options(address=address, trial_cpus=trial_cpus)
    for name in recover(out):
        log(f"{name}: put back the copy that an interrupted transfer had set aside")
    ray, owned = connect(address, log)
    try:
        return _Driver(ray, todo, spec, out, log, should_stop, finished_one, trial_cpus).run()
    finally:
        if owned:
            ray.shutdown()


class _Driver:
    def __init__(self, ray, todo, spec, out, log, should_stop, finished_one, trial_cpus) -> None:
        from training.sweep_ray_trial import Trial

        self.ray, self.spec, self.out, self.log = ray, spec, Path(out), log
        self.should_stop, self.finished_one, self.trial_cpus = should_stop, finished_one, trial_cpus
        self.queue = list(todo)
        self.total = len(todo)
        self.flights: list[_Flight] = []
        self.failed: list = []
        self.attempts: dict[Path, int] = {}
        self.started = 0
        self.measured: tuple[float, float, float] | None = None
        self.stopping = False
        self.token = uuid.uuid4().hex[:8]
        self.Remote = ray.remote(max_concurrency=4, max_restarts=0)(Trial)
        self.device = spec["train"].get("device") or "auto"

    def _name(self, t) -> str:
        return trial_name(t.config.label, t.repeat, int(self.spec["repeats"]))

    # ---------------------------------------------------------------- loop
    def run(self) -> list:
        try:
            while self.queue or self.flights:
                if not self.stopping and self.should_stop():
                    self._stop_all()
                if not self.stopping:
                    self._start_what_fits()
                if not self.flights:
                    break
                self._step()
        except BaseException:
            for f in self.flights:  # interrupted (a second Ctrl-C): nothing keeps running on the cluster
                self.ray.kill(f.actor)
            raise
        return self.failed

    def _free(self) -> dict:
        total = self.ray.cluster_resources()
        free = {"CPU": total.get("CPU", 0.0), "GPU": total.get("GPU", 0.0)}
        for f in self.flights:
            free["CPU"] -= f.request["num_cpus"]
            free["GPU"] -= f.request["num_gpus"]
        return free

    def _start_what_fits(self) -> None:
        from training.run_archive import pack
        from training.sweep import _device, _set_aside, _train_config, run_state

        while self.queue:
            t = self.queue[0]
            free = self._free()
            gpus = self.ray.cluster_resources().get("GPU", 0.0)
            if self.device == "cuda" and gpus <= 0:
                raise UserError("--device cuda: the Ray cluster has no GPU; use --device auto or cpu")
            request = trial_resources(t.config, self.device, gpus, self.trial_cpus, self.measured)
            if not _feasible(request, _alive_nodes(self.ray)):
                self.queue.pop(0)
                self._mark_failed(t, f"it needs {_describe(request)} and no node of the Ray cluster has that")
                continue
            if self.flights and not _fits(request, free):
                return
            self.queue.pop(0)
            self.started += 1
            state = run_state(t.run)
            actor = self.Remote.options(
                num_cpus=request["num_cpus"],
                num_gpus=request["num_gpus"],
                name=f"skipwire-{self.token}-{t.run.name}-{self.attempts.get(t.run, 0) + 1}",
            ).remote()
            head = f"[{self.started}/{self.total}] {self._name(t)}"
            sweep = {
                "axes": self.spec["axes"],
                "runs": [e for e in self.spec["runs"] if e["dir"] == t.run.name],
            }
            if state == "resumable":
                self.log(f"{head}: resuming {t.run} on Ray ({_describe(request)})")
                ref = actor.run.remote(
                    t.run.name, None, None, pack(t.run), {"device": _device(self.spec)}, sweep
                )
            else:
                _set_aside(t.run)
                cfg = _train_config(t.config, self.spec["train"], t.repeat)
                if request["num_gpus"] == 0:
                    cfg = cfg.with_overrides(threads=request["num_cpus"])
                self.log(f"{head}: {t.config.params:,} parameters -> {t.run} on Ray ({_describe(request)})")
                ref = actor.run.remote(
                    t.run.name, t.config.project.to_dict(), cfg.to_dict(), None, None, sweep
                )
            self.flights.append(_Flight(t, actor, ref, request, self.started))

    def _step(self) -> None:
        ray = self.ray
        for f in self.flights:
            if f.poll_ref is None:
                f.poll_ref = f.actor.poll.remote()
        refs = [f.ref for f in self.flights] + [
            r for f in self.flights for r in (f.poll_ref, f.snap_ref, f.stop_ref) if r is not None
        ]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=WAIT_S)
        ready = set(ready)
        for f in list(self.flights):
            if f.poll_ref in ready:
                self._take_poll(f)
            if f.snap_ref in ready:
                self._take_snapshot(f)
            if f.stop_ref in ready:
                self._take_stop_answer(f)
            if f not in self.flights:
                continue
            if f.ref in ready:
                self._take_result(f)
            elif (
                self.stopping
                and not f.started
                and f.stop_asked
                and time.monotonic() - f.stop_asked > STOP_GRACE_S
            ):  # never scheduled (or silent since): nothing of it to keep
                ray.kill(f.actor)
                self.flights.remove(f)

    # ---------------------------------------------------------------- news from a trial
    def _take_poll(self, f: _Flight) -> None:
        try:
            records, snap, node = self.ray.get(f.poll_ref)
        except self.ray.exceptions.RayError:
            f.poll_ref = None
            return  # the run's own result says what happened
        f.poll_ref = None
        self._log_records(f, records, node)
        if snap > f.snap_seen and f.snap_ref is None:
            f.snap_ref = f.actor.snapshot.remote()

    def _log_records(self, f: _Flight, records: list[dict], node: str) -> None:
        label = self._name(f.task)
        if records and not f.started:
            f.started = True
            self.log(f"  {label}: started" + (f" on {node}" if node else ""))
        for rec in records:
            if rec.get("kind") == "epoch":
                acc = rec.get("val_acc")
                self.log(
                    f"  {label}: epoch {rec['epoch']} val acc " + (f"{acc:.2%}" if acc is not None else "-")
                )

    def _take_snapshot(self, f: _Flight) -> None:
        from training.run_archive import install

        try:
            got = self.ray.get(f.snap_ref)
        except self.ray.exceptions.RayError:
            got = None
        f.snap_ref = None
        if got is not None and got[0] > f.snap_seen:
            f.snap_seen = got[0]
            install(got[1], f.task.run)

    def _take_stop_answer(self, f: _Flight) -> None:
        try:
            started = self.ray.get(f.stop_ref)
        except self.ray.exceptions.RayError:
            started = True  # the run's own result says what happened
        f.stop_ref = None
        f.stop_asked = None
        if not started:
            self.ray.kill(f.actor)
            self.flights.remove(f)

    def _take_result(self, f: _Flight) -> None:
        from training.run_archive import install
        from training.sweep import run_result

        self.flights.remove(f)
        t, label = f.task, self._name(f.task)
        try:
            res = self.ray.get(f.ref)
        except self.ray.exceptions.RayError as exc:
            self._lost(f, exc)
            return
        finally:
            self.ray.kill(f.actor)
        if res["outcome"] == "not_started":
            return
        self._log_records(f, res.get("records") or [], res.get("node") or "")
        if res["folder"] is not None:
            try:
                install(res["folder"], t.run)
            except UserError as exc:  # an archive that cannot be unpacked: that trial fails, the rest go on
                self._mark_failed(t, exc.message)
                return
        outcome = res["outcome"]
        if outcome == "failed":
            self._mark_failed(t, res["message"] or "the trial failed")
            return
        if outcome == "completed":
            info = run_result(t.run)
            self.log(f"  {label}: done, best val acc {info['best_val_acc'] or 0:.2%}")
            if self.measured is None and info.get("gpu_mem_mb") and res.get("gpu_total_mb"):
                self.measured = (float(info["gpu_mem_mb"]), t.config.cost_estimate(), res["gpu_total_mb"])
                self.log(
                    f"Ray: the first trial peaked at {self.measured[0]:,.0f} MiB of a "
                    f"{self.measured[2]:,.0f} MiB GPU; later trials ask for their share"
                )
        else:
            self.log(f"  {label}: {outcome}: {res['message']}")
        self.finished_one()

    def _lost(self, f: _Flight, exc: Exception) -> None:
        from training.sweep import run_state

        t = f.task
        text = str(exc).strip().splitlines()
        reason = f"its Ray worker was lost ({type(exc).__name__}{': ' + text[0] if text else ''})"
        n = self.attempts[t.run] = self.attempts.get(t.run, 0) + 1
        if n < MAX_ATTEMPTS and not self.stopping:
            state = run_state(t.run)
            again = "from its last checkpoint" if state == "resumable" else "from the start"
            self.log(f"  {self._name(t)}: {reason}; running it again {again}")
            t.state = state
            self.queue.insert(0, t)
            self.total += 1
        elif self.stopping:
            self.log(f"  {self._name(t)}: {reason} while stopping")
        else:
            self._mark_failed(t, f"{reason}, {n} times")

    def _stop_all(self) -> None:
        self.stopping = True
        if self.queue:
            self.log(f"stopping: {len(self.queue)} trial(s) not started")
        self.queue.clear()
        now = time.monotonic()
        for f in self.flights:
            f.stop_ref = f.actor.stop.remote()
            f.stop_asked = now

    # ---------------------------------------------------------------- failures
    def _mark_failed(self, t, reason: str) -> None:
        """The run folder says failed, with the reason (a folder of its own if none came back)."""
        from training import runs
        from training.sweep import _train_config

        self.log(f"  {self._name(t)}: failed: {reason}")
        self.failed.append(t)
        if (t.run / "config.json").exists():
            runs.update_run_meta(t.run, status="failed", message=reason)
        else:
            staging = t.run.parent / ".incoming" / f"{t.run.name}.failed-{self.token}"
            staging.mkdir(parents=True)
            runs.write_json(staging / "project.json", t.config.project.to_dict())
            runs.write_json(
                staging / "config.json", _train_config(t.config, self.spec["train"], t.repeat).to_dict()
            )
            runs.write_json(
                staging / "run.json",
                {
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "status": "failed",
                    "message": reason,
                    "epochs_done": 0,
                },
            )
            if t.run.exists():
                from training.sweep import _set_aside

                _set_aside(t.run)
            os.replace(staging, t.run)
            try:
                staging.parent.rmdir()
            except OSError:
                pass
        self.finished_one()


__all__ = [
    "EXTRA",
    "check_options",
    "connect",
    "import_ray",
    "run_trials",
    "runtime_env",
    "trial_name",
    "trial_resources",
]
