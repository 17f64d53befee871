import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Ray runs its workers (the sweep's trials) at nice 15 so that its own servers stay responsive; beside a
# CPU hog at nice 0 (issue 19's stress-ng check) a trial then gets a few percent of a core and a 20 s Ray
# test took over 300 s. The tests' local Ray instances run trials at the suite's own priority; children
# (the Sweep tab's `main.py sweep --backend ray`) inherit it.
os.environ.setdefault("RAY_worker_niceness", "0")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared"
MNIST_DIR = SHARED / "data" / "mnist"


@pytest.fixture(scope="module")
def one_thread():
    """torch on one intra-op thread for a test module, restored afterwards: tiny nets run faster so, and far
    faster on a busy 2-core machine (measured: 7x), where two threads spin against other processes. Use
    ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
