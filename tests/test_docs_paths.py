"""Docs a newcomer reads first hold no paths of one machine (issue 23: docs/HELPERS.md named /work/main)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_helpers_and_architecture_docs_name_no_machine_paths():
    for name in ("docs/HELPERS.md", "docs/architecture.md", "docs/add_layer_type.md", "docs/codegen.md"):
        text = (ROOT / name).read_text(encoding="utf-8")
        hits = re.findall(r"(?<![\w.])/(?:work|root|home|Users|tmp)/[\w./-]*", text)
        assert not hits, f"{name}: {hits}"
