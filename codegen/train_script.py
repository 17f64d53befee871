# Skipwire template: codegen/train_script.py is the training script that `export --format script` writes.
# Skipwire template: codegen/script_template.py adds the #! line, the title, PROJECT (the project as
# Skipwire template: JSON) and drops these lines; the rest is copied as it is here.
"""Train the model - exported by Skipwire.

    python train.py [--epochs N] [--dataset SPEC] [--batch-size N] [--lr X] [--seed N]
                    [--device auto|cpu|cuda|mps] [--out DIR] [--resume RUNDIR]
    torchrun --nproc_per_node N train.py [same options]

This file is the project below (its graph and training settings) and a call into the
installed Skipwire (pip install skipwire): it trains with the engine that `skipwire train`
and the editor use, so it trains exactly what the app trains (model, schedule, augmentation,
normalisation, split, label smoothing, weight decay, evaluation). SPEC, the options and the
run folder under OUT (default: runs) are those of `skipwire train` (README.md "Training").
Under torchrun --batch-size is the global batch and rank 0 writes the run folder.
"""

import json
import sys

PROJECT: dict = json.loads("{}")


def main(argv=None):
    try:
        from training.bundle import run
    except ImportError:
        sys.stderr.write(
            "train.py: this script trains with Skipwire's engine; install it: pip install skipwire\n"
        )
        return 2
    return run(PROJECT, sys.argv[1:] if argv is None else list(argv))


if __name__ == "__main__":
    sys.exit(main())
