"""Per-run metric series, fed record by record, bounded in memory (no Qt, no numpy).

``Curve`` keeps at most ``max_points`` points however long a run gets: while
it is short every point is kept; when it fills up, neighbouring points are
merged four into two (the minimum and the maximum, in x order), so the
envelope of a noisy loss survives and a spike is never dropped. New points
are then gathered ``bucket`` at a time into one min/max pair.

``RunSeries`` turns the records of one run (training/metrics.py) into curves;
``RunStore`` holds every run on screen, keyed by a stable string.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

DEFAULT_MAX_POINTS = 2000
MAX_GRAD_COLUMNS = 400


class Curve:
    """A bounded (x, y) series with min/max bucketing of long histories."""

    def __init__(self, max_points: int = DEFAULT_MAX_POINTS) -> None:
        self.max_points = max(8, max_points - max_points % 4)
        self.xs: list[float] = []
        self.ys: list[float] = []
        self.bucket = 2  # raw points per stored min/max pair (2: every raw point is stored as itself)
        self._pending: list[tuple[float, float]] = []
        self.count = 0  # raw points received
        self.version = 0  # bumps on every change, so views redraw only what changed

    def __len__(self) -> int:
        return len(self.xs) + min(len(self._pending), 2)

    def clear(self) -> None:
        self.xs.clear()
        self.ys.clear()
        self._pending.clear()
        self.bucket, self.count = 2, 0
        self.version += 1

    def append(self, x: float, y: float | None) -> None:
        if y is None or not math.isfinite(y):
            return
        self.count += 1
        self.version += 1
        if self.bucket == 2:
            self.xs.append(x)
            self.ys.append(y)
        else:
            self._pending.append((x, y))
            if len(self._pending) >= self.bucket:
                for px, py in _min_max(self._pending):
                    self.xs.append(px)
                    self.ys.append(py)
                self._pending.clear()
        if len(self.xs) >= self.max_points:
            self._compress()

    def _compress(self) -> None:
        xs, ys = self.xs, self.ys
        nx: list[float] = []
        ny: list[float] = []
        n4 = len(xs) - len(xs) % 4
        for i in range(0, n4, 4):
            for px, py in _min_max(list(zip(xs[i : i + 4], ys[i : i + 4], strict=True))):
                nx.append(px)
                ny.append(py)
        nx.extend(xs[n4:])
        ny.extend(ys[n4:])
        self.xs, self.ys = nx, ny
        self.bucket *= 2

    def data(self) -> tuple[list[float], list[float]]:
        """The points to draw (at most ``max_points`` + 2)."""
        if not self._pending:
            return self.xs, self.ys
        tail = _min_max(self._pending)
        return self.xs + [p[0] for p in tail], self.ys + [p[1] for p in tail]

    def last(self) -> tuple[float, float] | None:
        if self._pending:
            return self._pending[-1]
        return (self.xs[-1], self.ys[-1]) if self.xs else None

    def value_at(self, x: float) -> float | None:
        """The y of the stored point nearest to ``x`` (for the hover read-out)."""
        xs, ys = self.data()
        if not xs:
            return None
        import bisect

        i = bisect.bisect_left(xs, x)
        if i <= 0:
            return ys[0]
        if i >= len(xs):
            return ys[-1]
        return ys[i] if xs[i] - x < x - xs[i - 1] else ys[i - 1]


def _min_max(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The lowest and the highest point of a bucket, in x order (one point if they coincide)."""
    lo = min(range(len(points)), key=lambda i: points[i][1])
    hi = max(range(len(points)), key=lambda i: points[i][1])
    if lo == hi:
        return [points[lo]]
    return [points[lo], points[hi]] if lo < hi else [points[hi], points[lo]]


def smooth(ys: list[float], weight: float, bucket: int = 2) -> list[float]:
    """TensorBoard-style exponential moving average with bias correction.

    ``weight`` is per raw point (0: none, 0.99: heavy); each stored point of a
    bucketed curve stands for ``bucket / 2`` raw points, so the weight is
    raised to that power and a curve looks alike before and after compression.
    """
    if weight <= 0 or not ys:
        return list(ys)
    w = min(weight, 0.999) ** max(1.0, bucket / 2)
    out: list[float] = []
    last, debias = 0.0, 0.0
    for y in ys:
        last = last * w + (1 - w) * y
        debias = debias * w + (1 - w)
        out.append(last / debias)
    return out


@dataclass
class GradHistory:
    """Per-layer gradient norms over steps, at most ``max_columns`` columns (every other one
    is dropped when it fills up, and only every ``stride``-th new one kept after that)."""

    max_columns: int = MAX_GRAD_COLUMNS
    layers: list[str] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)
    columns: list[list[float | None]] = field(default_factory=list)
    stride: int = 1
    _seen: int = 0
    version: int = 0

    def append(self, step: float, layers: list[str], norms: list[float | None]) -> None:
        if layers != self.layers:
            if self.layers:  # the model changed (should not happen within a run): start over
                self.steps.clear()
                self.columns.clear()
                self.stride, self._seen = 1, 0
            self.layers = list(layers)
        self._seen += 1
        if (self._seen - 1) % self.stride:
            return
        self.steps.append(step)
        self.columns.append(list(norms))
        self.version += 1
        if len(self.columns) >= self.max_columns:
            self.steps = self.steps[::2]
            self.columns = self.columns[::2]
            self.stride *= 2

    def layer_curve(self, index: int) -> tuple[list[float], list[float]]:
        xs, ys = [], []
        for s, col in zip(self.steps, self.columns, strict=True):
            v = col[index] if index < len(col) else None
            if v is not None and v > 0 and math.isfinite(v):
                xs.append(s)
                ys.append(v)
        return xs, ys


class RunSeries:
    """Everything plotted for one run."""

    def __init__(self, key: str, label: str, max_points: int = DEFAULT_MAX_POINTS) -> None:
        self.key = key
        self.label = label
        self.loss = Curve(max_points)  # train loss per step record
        self.lr = Curve(max_points)
        self.throughput = Curve(max_points)  # images/s
        self.epoch_step = Curve(max_points)  # x = step of each epoch record (for the epoch axis)
        self.train_loss = Curve(max_points)  # per epoch, x = step at the end of the epoch
        self.val_loss = Curve(max_points)
        self.train_acc = Curve(max_points)
        self.val_acc = Curve(max_points)
        self.grads = GradHistory()
        self.state = ""  # the latest status state
        self.message = ""
        self.error = ""
        self.steps_per_epoch: int | None = None
        self.total_steps: int | None = None
        self.epochs: int | None = None
        self.step = 0
        self.epoch = 0.0
        self.eta_s: float | None = None
        self.best_val_acc: float | None = None
        self.last_val_acc: float | None = None
        self.last_val_images: int | None = None  # a mid-epoch subset's size (None: the whole set)
        self.images_per_s: float | None = None
        self.device = ""

    def curves(self) -> dict[str, Curve]:
        return {
            "loss": self.loss,
            "lr": self.lr,
            "throughput": self.throughput,
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            "train_acc": self.train_acc,
            "val_acc": self.val_acc,
        }

    def ingest(self, records: list[dict]) -> None:
        for rec in records:
            kind = rec.get("kind")
            if kind == "step":
                self._ingest_step(rec)
            elif kind == "epoch":
                self._ingest_epoch(rec)
            elif kind == "val":  # a validation subset during a long epoch: accuracy before its end
                s = float(rec.get("step") or self.step)
                self.val_loss.append(s, rec.get("val_loss"))
                self.val_acc.append(s, rec.get("val_acc"))
                if rec.get("val_acc") is not None:
                    self.last_val_acc = rec["val_acc"]
                    self.last_val_images = rec.get("images")
            elif kind == "grad":
                self.grads.append(
                    float(rec.get("step") or self.step), rec.get("layers") or [], rec.get("norms") or []
                )
            elif kind == "status":
                self._ingest_status(rec)
            elif kind == "error":
                self.state = "error"
                self.error = rec.get("message", "the training process reported an error")

    def _ingest_step(self, rec: dict) -> None:
        s = float(rec.get("step") or 0)
        self.step = int(s)
        self.epoch = float(rec.get("epoch") or self.epoch)
        self.loss.append(s, rec.get("loss"))
        self.lr.append(s, rec.get("lr"))
        ips = rec.get("images_per_s")
        if ips is not None:
            self.throughput.append(s, ips)
            self.images_per_s = ips

    def _ingest_epoch(self, rec: dict) -> None:
        s = float(rec.get("step") or self.step)
        self.step = int(s)
        self.epoch = float(rec.get("epoch") or self.epoch)
        self.train_loss.append(s, rec.get("train_loss"))
        self.val_loss.append(s, rec.get("val_loss"))
        self.train_acc.append(s, rec.get("train_acc"))
        self.val_acc.append(s, rec.get("val_acc"))
        self.eta_s = rec.get("eta_s")
        ep = rec.get("epoch")
        if not self.steps_per_epoch and isinstance(ep, (int, float)) and ep >= 1 and s > 0:
            self.steps_per_epoch = max(1, round(s / ep))  # runs logged without a status record
        va = rec.get("val_acc")
        if va is not None:
            self.last_val_acc = va
            self.last_val_images = None  # the whole validation set
            self.best_val_acc = va if self.best_val_acc is None else max(self.best_val_acc, va)
        if self.throughput.count == 0 and rec.get("images_per_s") is not None:
            self.throughput.append(s, rec["images_per_s"])
        if self.lr.count == 0 and rec.get("lr") is not None:
            self.lr.append(s, rec["lr"])

    def _ingest_status(self, rec: dict) -> None:
        self.state = rec.get("state", self.state)
        self.message = rec.get("message", "")
        for attr in ("steps_per_epoch", "total_steps", "epochs"):
            if rec.get(attr) is not None:
                setattr(self, attr, int(rec[attr]))
        if rec.get("device"):
            self.device = str(rec["device"])

    def to_epochs(self, xs: list[float]) -> list[float]:
        """Steps -> epochs (when the run said how many steps an epoch has)."""
        spe = self.steps_per_epoch
        if not spe:
            return xs
        return [x / spe for x in xs]

    @property
    def finished(self) -> bool:
        return self.state in ("completed", "stopped", "diverged", "error")


class RunStore:
    """The runs on screen, in the order they were added; colours stay with their key."""

    def __init__(self) -> None:
        self.runs: dict[str, RunSeries] = {}
        self._color_index: dict[str, int] = {}

    def get(self, key: str) -> RunSeries | None:
        return self.runs.get(key)

    def add(self, key: str, label: str) -> RunSeries:
        if key in self.runs:
            self.runs[key].label = label
            return self.runs[key]
        self.runs[key] = RunSeries(key, label)
        self.color_index(key)
        return self.runs[key]

    def remove(self, key: str) -> None:
        self.runs.pop(key, None)

    def rename(self, old: str, new: str) -> None:
        """A live run gets its folder's key once known; it keeps its colour."""
        if old == new or old not in self.runs:
            return
        run = self.runs.pop(old)
        run.key = new
        self.runs[new] = run
        if old in self._color_index:
            self._color_index[new] = self._color_index.pop(old)

    def color_index(self, key: str) -> int:
        if key not in self._color_index:
            used = set(self._color_index.values())
            i = 0
            while i in used:
                i += 1
            self._color_index[key] = i
        return self._color_index[key]
