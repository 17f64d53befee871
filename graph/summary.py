"""Per-layer summary of an analysed project: parameters, MACs, shapes, memory.

``summarize(analysis, batch=None)`` returns plain data (what ``summary --json``
prints); ``render_table(summary)`` lays it out for a terminal. Pure Python, no
torch: every figure comes from shape inference (graph.shapes).

Activation memory (with ``batch``) is a rough forward-pass figure: the float32
output of every leaf module (block instances add up their bodies), times the
batch size. The training-memory estimate (graph/memory.py) is the figure to
plan with: what autograd keeps for backward, each tensor once, plus parameters,
gradients and optimizer state, and whether it fits a device.
"""

from __future__ import annotations

from math import prod
from typing import Any

from graph.shapes import Analysis

BYTES_PER_ELEMENT = 4  # float32


def summarize(
    analysis: Analysis, batch: int | None = None, precision: str = "fp32", device_bytes: int | None = None
) -> dict[str, Any]:
    """Totals and one row per module path (``layer1.0.conv1``), depth first. With ``batch``, also the
    training-memory estimate (graph/memory.py) at ``precision`` against ``device_bytes`` if given."""
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise ValueError(f"batch must be a whole number of at least 1, got {batch!r}")
    rows = analysis.layers()
    layers: list[dict[str, Any]] = []
    for row in rows:
        is_block = row.info is not None and row.info.children is not None
        entry: dict[str, Any] = {
            "name": row.path,
            "type": row.type,
            "output_shape": list(row.out_shape) if row.out_shape is not None else None,
            "params": row.num_params,
            "trainable_params": row.num_params - row.frozen_params,
            "frozen_params": row.frozen_params,
            "trainable": row.trainable,
            "macs": row.macs,
            "depth": row.depth,
            "block": is_block,
        }
        if batch is not None:
            entry["activation_bytes"] = (
                0
                if (is_block or row.out_shape is None)
                else (prod(row.out_shape) * batch * BYTES_PER_ELEMENT)
            )
        layers.append(entry)
    if batch is not None:
        _roll_up_blocks(layers)
    inputs = analysis.project.graph.nodes_of_type("Input")
    input_info = analysis.root.nodes.get(inputs[0].id) if inputs else None
    out: dict[str, Any] = {
        "name": analysis.project.name,
        "valid": analysis.valid,
        "input_shape": list(input_info.out_shape) if input_info and input_info.out_shape else None,
        "output_shape": list(analysis.output_shape) if analysis.output_shape is not None else None,
        "total_params": analysis.total_params,
        "trainable_params": analysis.trainable_params,
        "frozen_params": analysis.total_params - analysis.trainable_params,
        "param_bytes": analysis.total_params * BYTES_PER_ELEMENT,
        "macs": analysis.macs,
        "layers": layers,
    }
    if batch is not None:
        out["batch"] = batch
        out["macs_batch"] = analysis.macs * batch
        out["activation_bytes"] = sum(r["activation_bytes"] for r in layers if not r["block"])
        if analysis.valid:
            from graph.memory import training_memory

            out["training_memory"] = training_memory(analysis, batch, precision, device_bytes).as_dict()
    return out


def _roll_up_blocks(layers: list[dict[str, Any]]) -> None:
    """A block row's activation bytes are the sum of the leaf rows nested below it."""
    for i, row in enumerate(layers):
        if not row["block"]:
            continue
        total = 0
        for below in layers[i + 1 :]:
            if below["depth"] <= row["depth"]:
                break
            if not below["block"]:
                total += below["activation_bytes"]
        row["activation_bytes"] = total


# ------------------------------------------------------------------ text
def human(n: float, unit: str = "") -> str:
    """1234567 -> '1.23 M' (decimal prefixes); bytes use binary prefixes."""
    if unit == "B":
        for prefix in ("B", "KiB", "MiB", "GiB", "TiB"):
            if abs(n) < 1024 or prefix == "TiB":
                return f"{n:.0f} B" if prefix == "B" else f"{n:.2f} {prefix}"
            n /= 1024
    for prefix in ("", "K", "M", "G", "T", "P"):
        if abs(n) < 1000 or prefix == "P":
            return f"{n:.0f}" if prefix == "" else f"{n:.2f} {prefix}"
        n /= 1000
    raise AssertionError  # pragma: no cover


def _shape(s: list[int] | None) -> str:
    return "?" if s is None else "x".join(str(d) for d in s)


def render_table(summary: dict[str, Any], max_depth: int | None = None) -> str:
    """Aligned columns with thousands separators and totals underneath."""
    with_mem = "activation_bytes" in summary
    any_frozen = summary["frozen_params"] > 0
    header = ["Layer", "Type", "Output shape", "Params", "MACs"]
    if any_frozen:
        header.append("Trainable")
    if with_mem:
        header.append("Activations")
    right = {"Params", "MACs", "Activations"}
    body = []
    for r in summary["layers"]:
        if max_depth is not None and r["depth"] > max_depth:
            continue
        cells = [
            "  " * r["depth"] + r["name"],
            r["type"],
            _shape(r["output_shape"]),
            f"{r['params']:,}",
            f"{r['macs']:,}",
        ]
        if any_frozen:
            cells.append(
                ""
                if r["params"] == 0
                else "yes"
                if r["frozen_params"] == 0
                else "frozen"
                if r["frozen_params"] == r["params"]
                else f"{r['frozen_params']:,} frozen"
            )
        if with_mem:
            cells.append(human(r["activation_bytes"], "B"))
        body.append(cells)
    widths = [max(len(h), *(len(c[i]) for c in body)) if body else len(h) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if h in right else c.ljust(w) for c, w, h in zip(cells, widths, header, strict=True)
        ).rstrip()

    rule = "-" * len(line(["-" * w for w in widths]))
    lines = [line(header), rule, *(line(c) for c in body), rule]
    totals = [
        ("Input shape", _shape(summary.get("input_shape"))),
        ("Output shape", _shape(summary["output_shape"])),
        ("Total params", f"{summary['total_params']:,}"),
        ("Trainable params", f"{summary['trainable_params']:,}"),
        ("Frozen params", f"{summary['frozen_params']:,}"),
        ("Parameter memory", human(summary["param_bytes"], "B")),
        ("MACs per sample", f"{summary['macs']:,} ({human(summary['macs'])})"),
    ]
    if with_mem:
        totals += [
            (
                f"MACs per batch of {summary['batch']}",
                f"{summary['macs_batch']:,} ({human(summary['macs_batch'])})",
            ),
            (f"Activations, batch {summary['batch']} (float32)", human(summary["activation_bytes"], "B")),
        ]
        mem = summary.get("training_memory")
        if mem:
            totals += [
                (
                    f"Training memory, batch {mem['batch']} ({mem['precision']}, {mem['optimizer']})",
                    (
                        f"{human(mem['total_bytes'], 'B')}: parameters {human(mem['param_bytes'], 'B')}, "
                        f"gradients {human(mem['grad_bytes'], 'B')}, "
                        f"optimizer {human(mem['optimizer_bytes'], 'B')}, "
                        f"kept for backward {human(mem['activation_bytes'], 'B')}"
                    ),
                ),
                ("Verdict", mem["verdict"]),
            ]
    label_w = max(len(k) for k, _ in totals)
    lines += [f"{k.ljust(label_w)}  {v}" for k, v in totals]
    return "\n".join(lines) + "\n"


__all__ = ["BYTES_PER_ELEMENT", "human", "render_table", "summarize"]
