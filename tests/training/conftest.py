import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_thread):
    """Every training test module runs torch on one thread (tests/conftest.py says why)."""
    yield
