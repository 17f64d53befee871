"""Pictures of an inspection, without Qt: the depth profile and one node's feature maps.

``write_profile(inspections, path)`` draws, per network (side by side), the activation std and the
gradient norm of every layer along depth on log axes (shared between the networks, so plain56
beside resnet56 compares at a glance). ``write_maps(record, path)`` draws a node's first channels
of sample 0 and the histogram of its values. matplotlib's Agg backend is imported only when a
picture is drawn (as training/pareto.py does); PNG or SVG by the file's suffix; written atomically.
``profile_csv(inspections)`` is the numbers behind the profile.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from graph.errors import UserError
from training.inspect import Inspection, depth_profile
from training.inspect_stats import NodeRecord

CSV_FIELDS = (
    "network",
    "index",
    "name",
    "type",
    "shape",
    "mean",
    "std",
    "min",
    "max",
    "norm",
    "zero_fraction",
    "dead_fraction",
    "saturated_fraction",
    "grad_norm",
)
COLORS = {"std": "#2a6fdb", "grad": "#d9534f"}


def _figure(size: tuple[float, float]):
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    return Figure(figsize=size, dpi=110, layout="constrained")


def _format(path: str | Path) -> str:
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise UserError(f"picture {path} must end in .png or .svg")
    return fmt


def _save(fig, path: str | Path) -> None:
    from graph.atomic import write_bytes_atomic

    p = Path(path)
    fmt = _format(p)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    write_bytes_atomic(p, buf.getvalue())


def _positive(values: list[float | None]) -> list[float]:
    return [v if v is not None and v > 0 and math.isfinite(v) else math.nan for v in values]


def draw_profile(fig, inspections: list[Inspection]) -> None:
    """Two rows (activation std, gradient norm) and a column per network on ``fig``."""
    n = len(inspections)
    axes = fig.subplots(2, n, sharey="row", squeeze=False)
    for col, ins in enumerate(inspections):
        rows = depth_profile(ins)
        xs = list(range(len(rows)))
        top, bottom = axes[0][col], axes[1][col]
        top.plot(xs, _positive([r.std for r in rows]), color=COLORS["std"], linewidth=1.2)
        bottom.plot(xs, _positive([r.grad_norm for r in rows]), color=COLORS["grad"], linewidth=1.2)
        for ax in (top, bottom):
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.25)
        top.set_title(f"{ins.project}\n{ins.weights}; {ins.count} samples", fontsize=10)
        bottom.set_xlabel("layer (forward order)")
        if col == 0:
            top.set_ylabel("activation std")
            bottom.set_ylabel("gradient norm (d loss / d output)")
    if n:
        fig.suptitle(
            "Depth profile: every layer's output spread and gradient on the same samples", fontsize=11
        )


def write_profile(inspections: list[Inspection], path: str | Path) -> None:
    _format(path)  # refused before any drawing
    fig = _figure((5.6 * max(1, len(inspections)) + 0.6, 6.4))
    draw_profile(fig, inspections)
    _save(fig, path)


def draw_maps(fig, record: NodeRecord, channels: int = 16, first: int = 0) -> None:
    """Channels first..first+channels of sample 0 as a grid, and the histogram of the values."""
    if record.maps is None:
        ax = fig.subplots(1, 1)
        _hist(ax, record)
        return
    maps = record.maps
    count = max(0, min(channels, maps.shape[0] - first))
    cols = min(8, max(1, count))
    grid_rows = max(1, math.ceil(count / cols))
    spec = fig.add_gridspec(grid_rows + 2, cols)
    lo, hi = float(maps.min()), float(maps.max())
    for i in range(count):
        ax = fig.add_subplot(spec[i // cols, i % cols])
        ax.imshow(maps[first + i].numpy(), cmap="viridis", vmin=lo, vmax=hi if hi > lo else lo + 1)
        ax.set_title(f"ch {first + i}", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    _hist(fig.add_subplot(spec[grid_rows:, :]), record)
    fig.suptitle(f"{record.name} ({record.type}), output {'x'.join(map(str, record.shape))}", fontsize=10)


def _hist(ax, record: NodeRecord) -> None:
    edges, counts = record.histogram()
    if counts:
        ax.stairs(counts, edges, fill=True, color=COLORS["std"], alpha=0.7)
    ax.set_xlabel("value")
    ax.set_ylabel("count")
    ax.set_title(
        f"mean {record.mean:.3g}  std {record.std:.3g}  zeros {record.zero_fraction:.1%}  "
        f"dead units {record.dead_fraction:.1%}",
        fontsize=9,
    )


def write_maps(record: NodeRecord, path: str | Path, channels: int = 16) -> None:
    _format(path)
    fig = _figure((9.0, 7.0))
    draw_maps(fig, record, channels)
    _save(fig, path)


def profile_csv(inspections: list[Inspection]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    for ins in inspections:
        for i, r in enumerate(ins.records):
            d = r.as_dict()
            w.writerow(
                [ins.project, i, r.name, r.type, "x".join(map(str, r.shape))]
                + [_cell(d.get(k)) for k in CSV_FIELDS[5:]]
            )
    return buf.getvalue()


def _cell(v) -> str:
    return "" if v is None else f"{v:.6g}"


def write_csv(inspections: list[Inspection], path: str | Path) -> None:
    from graph.atomic import write_text_atomic

    write_text_atomic(path, profile_csv(inspections))


__all__ = [
    "CSV_FIELDS",
    "draw_maps",
    "draw_profile",
    "profile_csv",
    "write_csv",
    "write_maps",
    "write_profile",
]
