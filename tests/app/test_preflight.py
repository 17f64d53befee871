"""The pre-flight check that `make run` and the editor's start-up run before Qt loads its xcb plugin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app import preflight

ROOT = Path(__file__).resolve().parents[2]

LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f)
"""


def test_missing_libraries_reads_ldd_and_checks_the_runtime_loaded_cursor_library(monkeypatch, tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    seen = []

    def fake_run(cmd, **kwargs):
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, stdout=LDD_OUTPUT, stderr="")

    monkeypatch.setattr(preflight.subprocess, "run", fake_run)
    monkeypatch.setattr(preflight.shutil, "which", lambda name: "/usr/bin/ldd")
    monkeypatch.setattr(preflight, "loadable", lambda soname: False)
    assert preflight.missing_libraries(plugin) == [
        "libxcb-icccm.so.4",
        "libxcb-keysyms.so.1",
        "libxcb-cursor.so.0",
    ]
    assert seen == [["ldd", str(plugin)]]
    monkeypatch.setattr(preflight, "loadable", lambda soname: soname == "libxcb-cursor.so.0")
    assert "libxcb-cursor.so.0" not in preflight.missing_libraries(plugin)


def test_loadable_asks_the_dynamic_loader():
    assert preflight.loadable("libc.so.6")
    assert not preflight.loadable("libskipwire-no-such-library.so.7")


def test_distribution_from_os_release(tmp_path):
    cases = {
        'ID=debian\nVERSION_ID="12"\n': "debian",
        "ID=ubuntu\nID_LIKE=debian\n": "debian",
        'ID=linuxmint\nID_LIKE="ubuntu debian"\n': "debian",
        'ID="fedora"\n': "fedora",
        'ID="rocky"\nID_LIKE="rhel centos fedora"\n': "fedora",
        "ID=arch\n": "",
    }
    for text, want in cases.items():
        f = tmp_path / "os-release"
        f.write_text(text)
        assert preflight.distribution(str(f)) == want, text
    assert preflight.distribution(str(tmp_path / "absent")) == ""


def test_install_command_names_the_packages_of_each_distribution():
    missing = ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-xkb.so.1"]
    assert preflight.install_command(missing, "debian") == (
        "sudo apt-get install -y libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-xkb1"
    )
    assert preflight.install_command(missing, "fedora") == (
        "sudo dnf install -y xcb-util-cursor xcb-util-wm xcb-util-keysyms libxcb"
    )
    # a library the table does not know: Debian's naming rule (soname stem + major version)
    assert preflight.install_command(["libxcb-xv.so.0"], "debian") == "sudo apt-get install -y libxcb-xv0"


def test_only_an_xcb_start_on_linux_is_checked(monkeypatch):
    monkeypatch.setattr(preflight.sys, "platform", "linux")
    assert preflight.wants_xcb({})
    assert preflight.wants_xcb({"QT_QPA_PLATFORM": "xcb"})
    assert not preflight.wants_xcb({"QT_QPA_PLATFORM": "offscreen"})
    assert not preflight.wants_xcb({"QT_QPA_PLATFORM": "wayland"})
    monkeypatch.setattr(preflight, "missing_libraries", lambda: ["libxcb-icccm.so.4"])
    assert preflight.problem({"QT_QPA_PLATFORM": "offscreen"}) == ""
    monkeypatch.setattr(preflight.sys, "platform", "darwin")
    assert not preflight.wants_xcb({})


def test_message_and_exit_code_when_libraries_are_missing(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(preflight.sys, "platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(preflight, "missing_libraries", lambda: ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    monkeypatch.setattr(preflight, "distribution", lambda: "debian")
    assert preflight.main() == 1
    err = capsys.readouterr().err
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in err
    assert "sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1" in err
    monkeypatch.setattr(preflight, "missing_libraries", list)
    assert preflight.main() == 0
    assert capsys.readouterr().err == ""


def test_the_editor_refuses_to_start_with_the_install_command_instead_of_a_qt_abort(tmp_path):
    """`python main.py` with a library hidden: exit code 2 and one message, no core dump, no traceback."""
    script = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from app import preflight\n"
        "preflight.missing_libraries = lambda plugin=None: ['libxcb-keysyms.so.1']\n"
        "preflight.distribution = lambda os_release=None: 'fedora'\n"
        "import main\n"
        "sys.argv = ['main.py']\n"
        "sys.exit(main.main())\n"
    )
    env = {"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "xcb", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "sudo dnf install -y xcb-util-keysyms" in proc.stderr
    assert "Traceback" not in proc.stderr
