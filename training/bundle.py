"""An exported ``train.py`` (``main.py export --format script``): a project and this launcher.

The file holds the project (graph and training settings) as JSON and calls ``run`` here, so it
trains with the installed Skipwire's engine, the one ``main.py train`` and the editor use: the
same generated model, schedule, augmentation, normalisation, train/validation split, label
smoothing, weight decay and evaluation, and the same run folder. There is no second copy of
the recipe that could drift. It takes ``main.py train``'s options (without the project file)
and runs under ``torchrun --nproc_per_node N train.py`` as ``main.py train`` does.
"""

from __future__ import annotations

import argparse
import sys

from graph.errors import UserError


def run(project_dict: dict, argv: list[str], prog: str = "train.py") -> int:
    """Train the bundled project with ``argv``'s options; the exit code (0, 1 failed, 2 bad input)."""
    from graph.projectfile import project_from_dict
    from training import cli

    parser = argparse.ArgumentParser(
        prog=prog, description="Train the bundled project with Skipwire's engine"
    )
    cli.add_train_arguments(parser, with_file=False)
    args = parser.parse_args(argv)
    args.file = None
    try:
        project = project_from_dict(project_dict, source=prog)
        return cli.cmd_train(args, None if args.resume else project)
    except UserError as exc:
        sys.stderr.write(f"{prog}: {exc.message}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        return 130
