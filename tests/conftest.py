import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
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
