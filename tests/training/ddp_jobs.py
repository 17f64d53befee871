"""Job targets for tests/training/test_process_ranks.py, run by ``python -m training.child`` in each
torchrun rank (the test puts this folder on the children's PYTHONPATH)."""

from __future__ import annotations

import os
import time


def fail_on_rank_1(payload: dict, link) -> int:
    """Rank 1 fails with a message; rank 0 trains on until stopped (torchrun's agent ends it)."""
    if os.environ.get("RANK") == "1":
        raise RuntimeError("rank 1 could not read its shard (a test failure)")
    link.put({"kind": "status", "time": time.time(), "state": "running", "message": "rank 0 waits"})
    while not link.should_stop():
        time.sleep(0.05)
    return 0
