"""assets/: the application icon (window, About, freedesktop), the .desktop file, the example projects."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from app.assets import ASSETS, ICON_SIZES, examples
from graph.projectfile import dumps_project, load_project

ROOT = Path(__file__).resolve().parents[2]


def test_icon_pngs_are_the_svg_rendered_at_each_size():
    for size in ICON_SIZES:
        image = QImage(str(ASSETS / "icons" / f"skipwire-{size}.png"))
        assert (image.width(), image.height()) == (size, size)
        assert image.hasAlphaChannel()
        assert image.pixelColor(0, 0).alpha() == 0  # rounded corner: transparent
        assert image.pixelColor(size // 2, size // 2).alpha() == 255
    assert (ASSETS / "icons" / "skipwire.svg").read_text().lstrip().startswith("<?xml")


def test_window_and_about_show_the_icon(make_window):
    from app.help_dialogs import about_box

    w = make_window()
    assert not w.windowIcon().isNull()
    assert {s.width() for s in w.windowIcon().availableSizes()} >= {16, 32, 48, 256}
    box = about_box(w)
    assert box.iconPixmap().width() == 64
    assert "Skipwire" in box.text()


def test_desktop_file_has_the_keys_a_menu_needs():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(ASSETS / "skipwire.desktop")
    d = entry["Desktop Entry"]
    assert d["Type"] == "Application" and d["Name"] == "Skipwire" and d["Icon"] == "skipwire"
    assert d["Terminal"] == "false" and d["Categories"].endswith(";")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_install_desktop_is_user_local_and_points_at_this_checkout(tmp_path):
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "share"), HOME=str(tmp_path))
    r = subprocess.run(
        ["make", "-s", "install-desktop"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert r.returncode == 0, r.stderr
    desktop = tmp_path / "share" / "applications" / "skipwire.desktop"
    text = desktop.read_text()
    assert f'Exec="{ROOT}/.venv/bin/python" "{ROOT}/main.py"' in text
    assert f"Path={ROOT}" in text
    for size in ICON_SIZES:
        assert (
            tmp_path / "share" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "skipwire.png"
        ).exists()
    assert (tmp_path / "share" / "icons" / "hicolor" / "scalable" / "apps" / "skipwire.svg").exists()
    r = subprocess.run(["make", "-s", "uninstall-desktop"], cwd=ROOT, env=env, check=False)
    assert r.returncode == 0 and not desktop.exists()


def test_examples_load_and_are_what_make_examples_writes():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_examples", ASSETS / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build()
    assert sorted(p.name for p in examples()) == sorted(built)
    for path in examples():
        assert dumps_project(load_project(path)) == dumps_project(built[path.name]), path.name


def test_file_menu_opens_an_example_as_an_unsaved_copy(make_window):
    w = make_window()
    menu = w.examples_menu
    names = [a.text() for a in menu.actions()]
    assert "resnet56 cifar10" in names
    next(a for a in menu.actions() if a.text() == "resnet56 cifar10").trigger()
    assert w.document.project.name == "ResNet-56"
    assert w.document.path is None  # Save asks where: the example file stays as it is
    assert w.document.analysis.valid
