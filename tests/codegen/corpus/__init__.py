"""A corpus of models written the way people write them (issue 22), small widths so CI stays fast.

Each module defines classes and factories; ``MODELS`` in models.py lists (name, factory, input shape).
Styles on purpose: tutorial code, ``F.*`` calls, sizes from ``x.size()``, modules built in forward,
lambdas, the option A shortcut as people write it, ``nn.Sequential`` nets, ``add_module`` loops, CIFAR
and ImageNet sizes. Written for this project (not copied), after the common public patterns.
"""
