"""What ``inspect`` runs on: the generated module with chosen weights, and a batch of samples.

``prepare_model(project, weights)`` builds the project's generated module (codegen.build, the code
that exports and trains) and gives it the seeded initialisation, the latest checkpoint of a run
(refused, naming both, when the run trained another network) or a weights file read by the one
weights-only reader. ``load_samples(...)`` takes the first N validation images of a dataset spec
(the project's by default) or image files, checked against the project's input, normalised as in
training (the run's statistics when weights come from a run).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from graph.errors import UserError

SYNTH_TRAIN_FOR_STATS = 256  # synthetic data for inspection: a small set is enough for mean and std


@dataclass(frozen=True)
class WeightsChoice:
    """init (seeded), run (a run folder's latest checkpoint) or file (.safetensors, .pt)."""

    kind: str = "init"
    path: str | None = None
    seed: int = 0

    def describe(self) -> str:
        if self.kind == "init":
            return f"initialisation, seed {self.seed}"
        return f"{'run' if self.kind == 'run' else 'weights'} {self.path}"


@dataclass
class Prepared:
    model: torch.nn.Module
    weights: str  # said in reports: "initialisation, seed 0", "run runs/x (last checkpoint)"
    norm: tuple[list[float], list[float]] | None  # the run's training mean/std (0..1 scale)
    run_dataset: str | None = None


@dataclass
class Samples:
    x: torch.Tensor  # float32 (N, C, H, W), normalised
    y: torch.Tensor | None  # labels where the samples have them
    source: str
    images: torch.Tensor  # uint8 (N, C, H, W) as read, for showing


def check_project(project):
    """The project's Analysis; UserError (exit 1) if it does not validate."""
    from graph.shapes import analyze

    a = analyze(project)
    if not a.valid:
        msgs = "; ".join(d.message for d in a.errors[:3])
        raise UserError(f"the project is not valid, so it cannot be inspected: {msgs}", 1)
    inputs = project.graph.nodes_of_type("Input")
    if len(inputs) != 1:
        raise UserError("the project needs exactly one Input node to be inspected", 1)
    return a


def input_shape(project) -> tuple[int, ...]:
    return tuple(int(v) for v in project.graph.nodes_of_type("Input")[0].params.get("shape", (3, 32, 32)))


def prepare_model(project, weights: WeightsChoice | None = None, analysis=None) -> Prepared:
    from codegen.build import build_module
    from codegen.weights import load_state

    weights = weights or WeightsChoice()
    analysis = analysis or check_project(project)
    torch.manual_seed(int(weights.seed))
    model = build_module(project, analysis)
    if weights.kind == "init":
        return Prepared(model, weights.describe(), None)
    if weights.kind == "run":
        return _from_run(project, model, Path(weights.path or ""))
    if weights.kind == "file":
        from codegen.weights import to_project_keys
        from training.runs import load_weights_file

        state = to_project_keys(load_weights_file(weights.path or ""), project.key_map)
        try:
            load_state(model, state, strict=True, source=str(weights.path))
        except UserError as exc:
            raise UserError(
                f"weights {weights.path} do not fit this project ({project.name}): "
                + _first_line_of_report(exc.message)
            ) from None
        return Prepared(model, weights.describe(), None)
    raise UserError(f"unknown weights choice {weights.kind!r}: use init, run or file")


def _first_line_of_report(message: str) -> str:
    lines = [ln.strip() for ln in message.splitlines()[1:] if ln.strip()]
    return "; ".join(lines[:2]) if lines else message


def _from_run(project, model, path: Path) -> Prepared:
    from codegen.weights import load_state
    from training import runs

    info = runs.load_run(path)
    difference = _graph_difference(project, info.project)
    tag = "last" if info.has_checkpoint("last") else "best"
    state, _ = runs.load_checkpoint(info.path, tag)
    own = model.state_dict()
    differ = [k for k in own if k not in state or tuple(state[k].shape) != tuple(own[k].shape)]
    extra = [k for k in state if k not in own]
    if differ or extra:
        example = (differ or extra)[0]
        difference = f"{len(differ) + len(extra)} of its tensors do not fit (first: {example})"
    if difference:
        raise UserError(
            f"run {path} trained another network ({info.project_name or 'unnamed'!s}), not this project "
            f"({project.name}): {difference}; pick a run of this project"
        )
    load_state(model, state, strict=True, source=str(path))
    data = info.meta.get("data", {})
    norm = (list(data["mean"]), list(data["std"])) if data.get("mean") and data.get("std") else None
    return Prepared(model, f"run {path} ({tag} checkpoint)", norm, info.dataset or None)


def _graph_difference(project, run_project: dict) -> str:
    """'' when the run's project.json has this project's graph and blocks, else what differs."""
    from graph.projectfile import project_from_dict

    try:
        theirs = project_from_dict(run_project, "the run's project.json")
    except UserError as exc:
        return f"its project.json cannot be read ({exc.message})"
    if project.graph.to_dict() == theirs.graph.to_dict() and {
        k: b.to_dict() for k, b in project.blocks.items()
    } == {k: b.to_dict() for k, b in theirs.blocks.items()}:
        return ""
    names = {n.name for n in project.graph.nodes.values()}
    their_names = {n.name for n in theirs.graph.nodes.values()}
    only = sorted(names ^ their_names)
    if only:
        return f"the graphs differ (node {only[0]!r} is in only one of them)"
    return "the graphs differ (same node names, other settings, connections or blocks)"


def _classes(analysis) -> int:
    out = analysis.output_shape
    return int(out[0]) if out is not None and len(out) == 1 else 10


def load_samples(
    project,
    analysis,
    dataset: str | None = None,
    images: list[str] | None = None,
    samples: int = 16,
    norm: tuple[list[float], list[float]] | None = None,
    resize: bool = False,
) -> Samples:
    """``samples`` validation images of ``dataset`` (default: the project's), or the image files."""
    from training import datasets

    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise UserError(f"--samples must be a whole number of at least 1, got {samples!r}")
    shape = input_shape(project)
    if len(shape) != 3:
        raise UserError(
            f"inspect needs an image input C,H,W but the project's input is {'x'.join(map(str, shape))}"
        )
    if images:
        raw = torch.stack([_read_checked(p, shape, resize) for p in images])
        y, source = None, ", ".join(str(p) for p in images)
        mean, std = norm or datasets.channel_stats(raw)
    else:
        spec = dataset or str(project.training.get("dataset") or "synthetic")
        classes = _classes(analysis)
        sp = datasets.parse_spec(spec)
        if sp.kind == "synthetic":
            ds = datasets.synthetic(shape, classes, n_train=SYNTH_TRAIN_FOR_STATS, n_val=samples)
            datasets.check_fit(ds, shape, classes)
            ds.mean, ds.std = datasets.channel_stats(ds.train_x)
        else:
            if sp.path is None and sp.kind in datasets.CACHED:
                from training.download import is_cached

                if not is_cached(datasets.CACHED[sp.kind]):  # inspect never starts a download
                    raise UserError(
                        f"dataset {sp.kind} is not in the download cache; fetch it first "
                        f"(python main.py datasets fetch {datasets.CACHED[sp.kind]}), give its folder "
                        f"({sp.kind}:DIR), or inspect with image files"
                    )
            ds = datasets.load(sp, shape, classes)
        raw, y = ds.val_x[:samples], ds.val_y[:samples]
        source = f"{ds.spec}, {len(raw)} validation image{'s' if len(raw) != 1 else ''}"
        if len(raw) < samples:  # a small validation split: the training images make up the rest
            more = samples - len(raw)
            raw, y = torch.cat([raw, ds.train_x[:more]]), torch.cat([y, ds.train_y[:more]])
            source += f" and {len(ds.train_x[:more])} training image{'s' if more != 1 else ''}"
        mean, std = norm or (ds.mean, ds.std)
    from training.augment import normalize

    x = normalize(raw, torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32))
    return Samples(x, y, source, raw)


def _read_checked(path: str, shape: tuple[int, ...], resize: bool) -> torch.Tensor:
    from training.images import read_image, to_shape

    p = Path(path)
    if not p.is_file():
        raise UserError(f"image {path} does not exist")
    img = read_image(p)
    c, h, w = shape
    have = img.shape[0] - (1 if img.shape[0] in (2, 4) else 0)  # alpha is dropped
    if have != c and not resize:
        raise UserError(
            f"image {path} has {have} channel{'s' if have != 1 else ''} but the project's input takes {c} "
            f"({c}x{h}x{w}); give a {'grayscale' if c == 1 else 'colour'} image, or --resize to convert it"
        )
    if tuple(img.shape[1:]) != (h, w) and not resize:
        raise UserError(
            f"image {path} is {img.shape[2]}x{img.shape[1]} pixels but the project's input is {w}x{h}; "
            "give an image of that size, or --resize to scale it"
        )
    return to_shape(img, shape)


__all__ = [
    "Prepared",
    "Samples",
    "WeightsChoice",
    "check_project",
    "input_shape",
    "load_samples",
    "prepare_model",
]
