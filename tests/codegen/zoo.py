"""The model zoo of issue 12: 40 classification CNNs from torchvision and timm, and the round-trip check.

``check(name)`` builds one model (eval mode, random weights, ``num_classes=10``, no aux logits),
imports it, validates the project, builds the exported module, loads the model's weights into it
strictly (same state_dict keys), compares outputs (max abs diff <= 1e-5, fp32) and imports the
exported module again to compare the projects (ignoring ids and positions). It raises on any
failure. ``python tests/codegen/zoo.py [NAME ...]`` prints one line per model (pass/fail, reason).

Needs torch 2.14.1 + torchvision 0.29.1 + timm (requirements-zoo.txt).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

# torchvision:<name> or timm:<name>; the input is 3x224x224 (3x299x299 for inception_v3)
ZOO = [
    # the models the issue names
    "torchvision:resnet34",
    "torchvision:resnext101_32x8d",
    "torchvision:densenet169",
    "torchvision:mobilenet_v2",
    "torchvision:mobilenet_v3_large",
    "torchvision:shufflenet_v2_x1_0",
    "torchvision:squeezenet1_1",
    "torchvision:vgg16_bn",
    "torchvision:regnet_x_800mf",
    "torchvision:regnet_y_800mf",
    "torchvision:googlenet",
    "torchvision:inception_v3",
    "torchvision:efficientnet_b0",
    "torchvision:efficientnet_v2_s",
    "torchvision:convnext_tiny",
    "torchvision:mnasnet1_0",
    "timm:resnet50d",
    "timm:resnetv2_50",
    "timm:seresnext50_32x4d",
    "timm:ecaresnet50d",
    "timm:skresnet18",
    "timm:res2net50_26w_4s",
    "timm:resnest26d",
    "timm:dpn68",
    "timm:densenet121",
    "timm:dla34",
    "timm:regnety_016",
    "timm:cspresnet50",
    "timm:efficientnet_b0",
    "timm:mobilenetv3_large_100",
    "timm:convnext_nano",
    # nine more from the same families
    "torchvision:resnet18",
    "torchvision:resnet50",
    "torchvision:wide_resnet50_2",
    "torchvision:densenet121",
    "torchvision:mobilenet_v3_small",
    "torchvision:shufflenet_v2_x0_5",
    "torchvision:vgg11_bn",
    "timm:resnet26d",
    "timm:seresnet50",
]


# a wider sweep, not run by the suite (about 6 minutes on 2 cores): ``python tests/codegen/zoo.py --wide``
# prints one line per model; models over 100M parameters are skipped. Results: docs/import_export.md
WIDE = [
    "torchvision:alexnet",
    "torchvision:convnext_small",
    "torchvision:densenet121",
    "torchvision:densenet161",
    "torchvision:densenet201",
    "torchvision:efficientnet_b1",
    "torchvision:efficientnet_b3",
    "torchvision:efficientnet_v2_m",
    "torchvision:mnasnet0_5",
    "torchvision:mnasnet0_75",
    "torchvision:mnasnet1_3",
    "torchvision:regnet_x_400mf",
    "torchvision:regnet_x_1_6gf",
    "torchvision:regnet_y_400mf",
    "torchvision:regnet_y_3_2gf",
    "torchvision:resnet101",
    "torchvision:resnet152",
    "torchvision:resnext50_32x4d",
    "torchvision:resnext101_64x4d",
    "torchvision:shufflenet_v2_x1_5",
    "torchvision:shufflenet_v2_x2_0",
    "torchvision:squeezenet1_0",
    "torchvision:wide_resnet101_2",
    "torchvision:maxvit_t",
    "torchvision:vit_b_16",
    "timm:resnet18d",
    "timm:resnet34d",
    "timm:resnet101d",
    "timm:resnetv2_50d",
    "timm:resnext50_32x4d",
    "timm:seresnext26d_32x4d",
    "timm:ecaresnet26t",
    "timm:ecaresnet101d",
    "timm:skresnet34",
    "timm:skresnext50_32x4d",
    "timm:res2net50_14w_8s",
    "timm:res2next50",
    "timm:resnest14d",
    "timm:resnest50d",
    "timm:dpn92",
    "timm:densenet169",
    "timm:dla46_c",
    "timm:dla60x",
    "timm:dla102",
    "timm:regnetx_002",
    "timm:regnety_004",
    "timm:regnetz_b16",
    "timm:cspresnext50",
    "timm:cspdarknet53",
    "timm:efficientnet_b1",
    "timm:efficientnet_lite0",
    "timm:tf_efficientnet_b0",
    "timm:mixnet_s",
    "timm:mobilenetv2_100",
    "timm:mobilenetv3_small_100",
    "timm:tf_mobilenetv3_large_100",
    "timm:convnext_atto",
    "timm:convnext_pico",
    "timm:convnext_tiny",
    "timm:ghostnet_100",
    "timm:nf_resnet26",
    "timm:gernet_s",
]


def input_shape(name: str) -> tuple[int, int, int]:
    return (3, 299, 299) if name.endswith("inception_v3") else (3, 224, 224)


def make(name: str):
    import torch

    lib, _, model = name.partition(":")
    torch.manual_seed(0)
    if lib == "torchvision":
        import torchvision

        kwargs = {"num_classes": 10, "weights": None}
        if model in ("googlenet", "inception_v3"):
            kwargs.update(aux_logits=False, init_weights=False)
        net = torchvision.models.get_model(model, **kwargs)
    else:
        import timm

        net = timm.create_model(model, pretrained=False, num_classes=10)
    _randomise_norms(net)
    return net.eval()


def _randomise_norms(net) -> None:
    """Running statistics and affine terms away from 0/1, so that a dropped or misplaced norm shows."""
    import torch

    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                if m.weight is not None:
                    m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)


def canonical(project) -> dict:
    """A project's nodes, edges, params, blocks and stages by name, without ids and positions."""

    def graph(g) -> dict:
        name = {n.id: n.name for n in g.nodes.values()}
        return {
            "nodes": sorted((n.name, n.type, repr(sorted(n.params.items()))) for n in g.nodes.values()),
            "edges": sorted(
                (name[e.src], name[e.dst], e.src_port, e.dst_port, e.kind, e.name or "", e.projection or "")
                for e in g.edges.values()
            ),
            "stages": [(s.name, s.keys, [name[i] for i in s.nodes]) for s in g.stages],
        }

    return {
        "graph": graph(project.graph),
        "blocks": {
            n: {"params": {k: (p.type, p.default) for k, p in b.params.items()}, "graph": graph(b.graph)}
            for n, b in sorted(project.blocks.items())
        },
    }


def check(name: str, tol: float = 1e-5) -> dict:
    """Round-trip one model; returns figures (seconds, parameters); raises AssertionError or UserError."""
    import torch

    from codegen.build import build_module
    from codegen.fx_import import import_module
    from graph.shapes import analyze

    shape = input_shape(name)
    model = make(name)
    t0 = time.perf_counter()
    result = import_module(model, shape)
    t_import = time.perf_counter() - t0
    assert not result.warnings, result.warnings
    analysis = analyze(result.project)
    assert analysis.valid, [d.message for d in analysis.errors][:3]
    n_params = sum(p.numel() for p in model.parameters())
    assert analysis.total_params == n_params, (analysis.total_params, n_params)
    rebuilt = build_module(result.project).eval()
    ours, theirs = set(rebuilt.state_dict()), set(model.state_dict())
    assert ours == theirs, (
        f"state_dict keys differ: only ours {sorted(ours - theirs)[:4]}, only theirs "
        f"{sorted(theirs - ours)[:4]}"
    )
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    torch.manual_seed(0)
    x = torch.randn(1, *shape)
    with torch.no_grad():
        want, got = model(x), rebuilt(x)
    diff = float((want - got).abs().max())
    assert diff <= tol, f"max abs diff {diff:.3g}"
    again = import_module(rebuilt, shape, check=False)  # the first import checked itself already
    assert canonical(again.project) == canonical(result.project), "import -> export -> import differs"
    return {"import_s": t_import, "params": n_params, "diff": diff}


def main(argv: list[str]) -> int:
    import torch

    from graph.errors import UserError

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    torch.set_num_threads(1)
    if argv == ["--wide"]:
        names = WIDE
    else:
        names = [n for n in ZOO if not argv or n in argv or n.partition(":")[2] in argv]
        names += [n for n in argv if ":" in n and n not in names]  # any torchvision:/timm: model
    passed = 0
    for name in names:
        t0 = time.perf_counter()
        try:
            if sum(p.numel() for p in make(name).parameters()) > 100e6:
                print(f"SKIP {name}: over 100M parameters", flush=True)
                continue
            figures = check(name)
            passed += 1
            print(
                f"PASS {name} ({time.perf_counter() - t0:.1f} s, import {figures['import_s']:.1f} s)",
                flush=True,
            )
        except UserError as exc:
            text = str(exc).replace("\n", " | ")
            print(f"FAIL {name}: {text[:600]}", flush=True)
        except AssertionError as exc:
            print(f"FAIL {name}: {str(exc)[:300]}", flush=True)
        except Exception as exc:  # noqa: BLE001 - a traceback from Skipwire is a bug: show its kind
            print(f"CRASH {name}: {type(exc).__name__}: {str(exc)[:300]}", flush=True)
    print(f"{passed}/{len(names)} passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
