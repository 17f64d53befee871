import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny nets train faster on one thread, and far faster on a busy 2-core machine (measured:
    7x), where two intra-op threads spin against other processes; restored afterwards."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
