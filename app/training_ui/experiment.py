"""The degradation experiment (He et al. 2016, figure 1 and 6): plain20, plain56, resnet20, resnet56
on one dataset with one set of settings; the deeper plain net trains worse, the deeper ResNet better.
A preset of the sweep: resnet20 varied over plain yes/no x depth 3/9. No Qt, no torch: it only builds
the four projects."""

from __future__ import annotations

from pathlib import Path

from graph.model import Project

MODELS = ("plain20", "plain56", "resnet20", "resnet56")
KNOWN_IO = {
    "mnist": ((1, 28, 28), 10),
    "fashion_mnist": ((1, 28, 28), 10),
    "cifar10": ((3, 32, 32), 10),
    "cifar100": ((3, 32, 32), 100),
    "cifar100_coarse": ((3, 32, 32), 20),
}


def project_io(project: Project | None) -> tuple[tuple[int, ...], int] | None:
    """The input shape and class count of a (valid) project, or None."""
    if project is None:
        return None
    try:
        from graph.shapes import analyze

        a = analyze(project)
        inputs = project.graph.nodes_of_type("Input")
        if not a.valid or not inputs or not a.output_shape:
            return None
        shape = tuple(int(d) for d in inputs[0].params["shape"])
        classes = int(a.output_shape[-1])
        return (shape, classes) if len(shape) == 3 else None
    except Exception:  # noqa: BLE001
        return None


def _folder_classes(root: Path) -> int:
    """Class sub-folders, as training/datasets.py's folder:DIR counts them (DIR/train/<class> when there
    is a train/ folder); 10 when the folder cannot be read (the dataset check then says what is wrong)."""
    if not root.is_dir():
        return 10

    def dirs(d: Path) -> dict:
        return {p.name.lower(): p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")}

    sub = dirs(root)
    if "train" in sub and any(v in sub for v in ("val", "valid", "validation", "test")):
        return len(dirs(sub["train"]))
    return len(sub)


def dataset_io(spec: str, project: Project | None = None) -> tuple[tuple[int, ...], int]:
    """Input shape and class count that a template needs to train on dataset ``spec``."""
    kind, _, path = spec.partition(":")
    if kind in KNOWN_IO:
        return KNOWN_IO[kind]
    if kind == "folder":
        return (3, 32, 32), max(_folder_classes(Path(path).expanduser()), 2)
    io = project_io(project)  # synthetic follows the project when it can
    return io if io is not None else ((3, 32, 32), 10)


# The experiment is a preset of the sweep (training/sweep.py): resnet20 with plain yes/no x depth 3/9
# (blocks per stage: 6n+2 = 20 and 56 layers), every variant built by graph/stage_edits.py.
DEGRADATION_BASE = "resnet20"
DEGRADATION_AXES = (("plain", ("yes", "no")), ("depth", ("3", "9")))


def degradation_base(spec: str, project: Project | None = None) -> Project:
    """resnet20 matched to the dataset's input shape and class count: the base of the preset."""
    from graph.templates import make

    shape, classes = dataset_io(spec, project)
    return make(DEGRADATION_BASE, classes=classes, input_shape=list(shape))


def preset_name(values: dict) -> str:
    """plain=yes depth=9 -> Plain-56 (the paper's names)."""
    layers = 6 * int(values["depth"]) + 2
    return f"{'Plain' if values['plain'] == 'yes' else 'ResNet'}-{layers}"


def build_projects(spec: str, project: Project | None = None, models=MODELS) -> list[Project]:
    """plain20, plain56, resnet20, resnet56 (or those of ``models``), as the sweep preset builds them."""
    from training.sweep import Axis, plan

    configs = plan(degradation_base(spec, project), [Axis(k, list(v)) for k, v in DEGRADATION_AXES])
    wanted = {m.lower() for m in models}
    out = []
    for c in configs:
        c.project.name = preset_name(c.values)
        if c.project.name.replace("-", "").lower() in wanted:
            out.append(c.project)
    return out
