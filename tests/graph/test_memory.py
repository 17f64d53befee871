"""The training-memory estimate from shape inference: parts, counting each kept tensor once, verdicts."""

from __future__ import annotations

import pytest

from graph.memory import GIB, HEADROOM, optimizer_buffers, saved_elements, training_memory
from graph.model import Project
from graph.shapes import analyze
from graph.summary import render_table, summarize
from graph.templates import make


def _chain(*layers):
    p = Project("chain")
    g = p.graph
    nodes = [g.add("Input", "input", shape=[3, 8, 8])]
    for kind, kw in layers:
        nodes.append(g.add(kind, kind.lower() + str(len(nodes)), **kw))
    nodes.append(g.add("Output", "output"))
    g.chain(*nodes)
    return p


def test_a_tensor_kept_by_two_layers_counts_once():
    # conv (keeps the input) -> BN (keeps the conv's output) -> ReLU (keeps its output) -> conv (keeps it too)
    p = _chain(
        ("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
        ("BatchNorm2d", {}),
        ("ReLU", {}),
        ("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
    )
    a = analyze(p)
    assert a.valid, a.diagnostics
    assert saved_elements(a) == 3 * 64 + 4 * 64 + 4 * 64  # the input, conv1's output, the ReLU's output


def test_parts_follow_the_project_optimizer_precision_and_batch():
    p = make("resnet20")
    a = analyze(p)
    est = training_memory(a, 128)
    assert est.params == est.grads == est.optimizer == a.total_params * 4  # SGD with momentum: one buffer
    assert optimizer_buffers({"optimizer": {"name": "adamw"}}) == ("AdamW", 2)
    assert optimizer_buffers({"optimizer": {"name": "sgd", "momentum": 0}}) == ("SGD", 0)
    bf16 = training_memory(a, 128, "bf16")
    assert bf16.activations * 2 == est.activations and bf16.params == est.params  # weights stay fp32
    assert training_memory(a, 256).activations == 2 * est.activations
    with pytest.raises(ValueError, match="precision"):
        training_memory(a, 8, "fp8")
    with pytest.raises(ValueError, match="batch"):
        training_memory(a, 0)


def test_verdicts():
    a = analyze(make("resnet56"))
    fits = training_memory(a, 128, "fp32", 139 * GIB)
    assert fits.fits and fits.verdict() == f"fits: {fits.total / GIB:.2f} of 139.0 GiB"
    tight = training_memory(a, 4096, "fp32", 4 * GIB)
    assert tight.fits is False
    b = tight.suggested_batch()
    assert tight.verdict().endswith(f"try batch {b}") and tight.verdict().startswith("does not fit")
    assert training_memory(a, b, "fp32", 4 * GIB).total <= 4 * GIB * HEADROOM
    assert training_memory(a, 2 * b, "fp32", 4 * GIB).total > 4 * GIB * HEADROOM
    none = training_memory(a, 8, "fp32", 1024)
    assert none.suggested_batch() is None and "alone need" in none.verdict()
    assert training_memory(a, 8).verdict().startswith("needs ")


def test_summary_carries_the_estimate():
    a = analyze(make("resnet20"))
    s = summarize(a, 64, "bf16", 80 * GIB)
    mem = s["training_memory"]
    assert mem["precision"] == "bf16" and mem["batch"] == 64 and mem["fits"] is True
    assert (
        mem["total_bytes"]
        == mem["param_bytes"] + mem["grad_bytes"] + mem["optimizer_bytes"] + mem["activation_bytes"]
    )
    text = render_table(s)
    assert "Training memory, batch 64 (bf16, SGD with momentum)" in text and "fits: " in text
    assert "training_memory" not in summarize(a)
