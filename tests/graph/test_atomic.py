"""graph.atomic: a temporary file beside the target, renamed only when written and checked; any failure
or interruption leaves the previous file untouched and no temporary file. Also `new -o` and `edit -o`."""

import os

import pytest

from graph import atomic
from graph.atomic import atomic_write, write_bytes_atomic, write_text_atomic
from graph.errors import UserError


def _fill(text):
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    return write


def test_writes_and_replaces(tmp_path):
    path = tmp_path / "a.txt"
    write_text_atomic(path, "one\n")
    write_bytes_atomic(path, b"two\n")
    assert path.read_bytes() == b"two\n" and os.listdir(tmp_path) == ["a.txt"]


def test_a_failing_check_leaves_the_previous_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    seen = []

    def check(tmp):
        with open(tmp, encoding="utf-8") as f:
            seen.append(f.read())  # the check sees the new content, beside the target
        assert os.path.dirname(tmp) == str(tmp_path)
        raise UserError("a.txt: the check failed", 1)

    with pytest.raises(UserError, match="the check failed"):
        atomic_write(path, _fill("new"), check)
    assert seen == ["new"]
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]


@pytest.mark.parametrize("stage", ["write", "check", "replace"])
def test_an_interruption_at_any_stage_leaves_nothing_behind(tmp_path, monkeypatch, stage):
    path = tmp_path / "a.txt"
    path.write_text("old")

    def interrupt(*_args):
        raise KeyboardInterrupt

    def half_then_interrupt(tmp):
        _fill("ne")(tmp)
        raise KeyboardInterrupt

    write, check = _fill("new"), None
    if stage == "write":
        write = half_then_interrupt
    elif stage == "check":
        check = interrupt
    else:
        monkeypatch.setattr(atomic.os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, write, check)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]


def test_an_os_error_becomes_one_line_naming_the_file(tmp_path, monkeypatch):
    path = tmp_path / "a.txt"

    def full(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full)
    with pytest.raises(UserError, match=r"a\.txt: cannot write the file \(No space left on device\)") as info:
        write_text_atomic(path, "x")
    assert info.value.exit_code == 2 and os.listdir(tmp_path) == []
    with pytest.raises(UserError, match="cannot write there"):
        write_text_atomic(tmp_path / "missing" / "a.txt", "x")


def test_executable_and_kept_mode(tmp_path):
    path = tmp_path / "run.py"
    write_text_atomic(path, "print()\n", executable=True)
    assert os.access(path, os.X_OK)
    os.chmod(path, 0o640)
    write_text_atomic(path, "print(1)\n")
    assert os.stat(path).st_mode & 0o777 == 0o640


# ------------------------------------------------------------------ new -o, edit -o
def _fail_rename(monkeypatch):
    def full(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full)


def test_new_failing_after_writing_started_keeps_the_previous_file(tmp_path, monkeypatch, capsys):
    import main

    out = tmp_path / "p.skipwire"
    assert main.main(["new", "resnet20", "-o", str(out)]) == 0
    before = out.read_bytes()
    _fail_rename(monkeypatch)
    assert main.main(["new", "resnet32", "-o", str(out)]) == 2
    assert "cannot write the file (No space left on device)" in capsys.readouterr().err
    assert out.read_bytes() == before and os.listdir(tmp_path) == ["p.skipwire"]


def test_edit_failing_after_writing_started_keeps_the_previous_file(tmp_path, monkeypatch, capsys):
    import main

    src, out = tmp_path / "p.skipwire", tmp_path / "q.skipwire"
    assert main.main(["new", "resnet20", "-o", str(src)]) == 0
    assert main.main(["edit", str(src), "--depth", "5", "-o", str(out)]) == 0
    before = out.read_bytes()
    _fail_rename(monkeypatch)
    assert main.main(["edit", str(src), "--depth", "9", "-o", str(out)]) == 2
    assert "cannot write the file" in capsys.readouterr().err
    assert out.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["p.skipwire", "q.skipwire"]
