"""Write the example projects in assets/examples/ (``python assets/make_examples.py``).

Each example is a built-in template with the settings a first run wants; tests check that every
file here loads and matches what this script writes."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = Path(__file__).resolve().parent / "examples"


def build() -> dict:
    """File name -> Project."""
    from graph.templates import make

    def small(project, epochs: int):
        project.training = {**project.training, "dataset": "synthetic", "epochs": epochs}
        return project

    mismatch = make("resnet20")
    body = mismatch.blocks["BasicBlock"].graph
    edge = next(e for e in body.edges.values() if e.is_shortcut)
    body.set_edge_field(edge.id, "projection", "identity")  # stride-2 instances no longer add up
    mismatch.name = "ResNet-20 (shortcut mismatch)"
    return {
        "resnet20_cifar10.json": small(make("resnet20"), 3),
        "resnet56_cifar10.json": small(make("resnet56"), 3),
        "plain20_cifar10.json": small(make("plain20"), 3),
        "resnet20_mnist.json": small(make("resnet20", input_shape=(1, 28, 28)), 3),
        "resnet20_shortcut_mismatch.json": small(mismatch, 3),
    }


def main() -> int:
    from graph.projectfile import save_project

    OUT.mkdir(exist_ok=True)
    for name, project in build().items():
        save_project(project, OUT / name)  # atomic
        print(f"wrote assets/examples/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
