"""A run folder's trip to a Ray worker and back (training/run_archive.py): packed and installed whole;
an install that fails between its two renames leaves the previous folder; recover() puts back a copy
that a crash left aside; bad archives are refused."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from graph.errors import UserError
from training import run_archive


def _run(folder, text: str):
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(text)
    (folder / "sub").mkdir()
    (folder / "sub" / "x.bin").write_bytes(b"\x00\x01" * 10)
    (folder / "half.tmp").write_text("a temporary file is left out")
    return folder


def test_pack_and_install_replace_the_whole_folder(tmp_path) -> None:
    data = run_archive.pack(_run(tmp_path / "worker" / "r1", "new"))
    target = _run(tmp_path / "sweep" / "r1", "old")
    (target / "stale").write_text("only in the old copy")
    run_archive.install(data, target)
    assert (target / "run.json").read_text() == "new"
    assert (target / "sub" / "x.bin").read_bytes() == b"\x00\x01" * 10
    assert not (target / "stale").exists() and not (target / "half.tmp").exists()
    assert sorted(p.name for p in (tmp_path / "sweep").iterdir()) == ["r1"]  # no staging left


def test_a_failed_swap_keeps_the_previous_folder(tmp_path, monkeypatch) -> None:
    data = run_archive.pack(_run(tmp_path / "worker" / "r1", "new"))
    target = _run(tmp_path / "sweep" / "r1", "old")
    real, calls = os.replace, []

    def second_fails(a, b):
        calls.append(b)
        if len(calls) == 2:
            raise OSError("disk full")
        real(a, b)

    monkeypatch.setattr(run_archive.os, "replace", second_fails)
    with pytest.raises(OSError):
        run_archive.install(data, target)
    assert (target / "run.json").read_text() == "old"


def test_recover_puts_back_a_copy_left_aside(tmp_path) -> None:
    sweep = tmp_path / "sweep"
    aside = _run(sweep / run_archive.STAGING / "r1.old-1234abcd", "old")
    _run(sweep / run_archive.STAGING / "r2.new-1234abcd", "half unpacked")
    assert aside.exists()
    assert run_archive.recover(sweep) == ["r1"]
    assert (sweep / "r1" / "run.json").read_text() == "old"
    assert not (sweep / run_archive.STAGING).exists()


@pytest.mark.parametrize("name", ["../escape.txt", "/abs.txt"])
def test_an_archive_reaching_outside_is_refused(tmp_path, name) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(UserError, match="not a plain file in it"):
        run_archive.unpack(buf.getvalue(), tmp_path / "dest")
    assert not (tmp_path / "dest").exists() and not (tmp_path / "escape.txt").exists()
