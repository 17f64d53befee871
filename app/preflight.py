"""Before the editor starts on Linux: are the system libraries Qt's X11 (xcb) plugin needs there?

Without them Qt aborts with "could not load the Qt platform plugin xcb" and a core dump. This
check finds what is missing (``ldd`` on the plugin, plus libxcb-cursor, which Qt 6.5+ loads at
run time) and names the packages and the exact install command for the distribution. It installs
nothing. ``python -m app.preflight`` (``make run`` calls it) exits 1 when something is missing.

Imports nothing from Qt: it runs before any Qt library is loaded.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

# soname -> (Debian/Ubuntu package, Fedora/RHEL package)
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libSM.so.6": ("libsm6", "libSM"),
    "libICE.so.6": ("libice6", "libICE"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
}


def xcb_plugin() -> Path | None:
    """PySide6's libqxcb.so, or None where PySide6 (or the plugin) is not installed."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if path.exists():
            return path
    return None


def missing_libraries(plugin: Path | None = None) -> list[str]:
    """Sonames the xcb plugin needs that the dynamic loader cannot find (empty: all there)."""
    plugin = plugin or xcb_plugin()
    missing: list[str] = []
    if plugin is not None and shutil.which("ldd"):
        try:
            out = subprocess.run(
                ["ldd", str(plugin)], capture_output=True, text=True, timeout=20, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        for line in out.splitlines():
            if "not found" in line:
                name = line.split("=>")[0].strip()
                if name and name not in missing:
                    missing.append(name)
    # Qt 6.5+ opens libxcb-cursor at run time (ldd does not list it) and refuses to start without it.
    if not loadable("libxcb-cursor.so.0") and "libxcb-cursor.so.0" not in missing:
        missing.append("libxcb-cursor.so.0")
    return missing


def loadable(soname: str) -> bool:
    """Whether the dynamic loader finds ``soname`` (a dlopen: ~1 ms, where ldconfig takes tens)."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def distribution(os_release: str = "/etc/os-release") -> str:
    """'debian' (Debian, Ubuntu, Mint...), 'fedora' (Fedora, RHEL, Rocky, CentOS...) or ''."""
    try:
        text = Path(os_release).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    ids: list[str] = []
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key in ("ID", "ID_LIKE"):
            ids += value.strip().strip('"').lower().split()
    if any(i in ("debian", "ubuntu") for i in ids):
        return "debian"
    if any(i in ("fedora", "rhel", "centos") for i in ids):
        return "fedora"
    return ""


def install_command(missing: list[str], distro: str) -> str:
    """The command that installs the packages providing ``missing`` (not run here)."""
    col = 1 if distro == "fedora" else 0
    pkgs: list[str] = []
    for soname in missing:
        pkg = PACKAGES.get(soname, (None, None))[col]
        if pkg is None:  # unknown to the table: Debian names most libraries after the soname
            stem, _, version = soname.partition(".so.")
            pkg = f"{stem}{version.split('.')[0]}" if col == 0 else stem
        if pkg not in pkgs:
            pkgs.append(pkg)
    if distro == "fedora":
        return "sudo dnf install -y " + " ".join(pkgs)
    return "sudo apt-get install -y " + " ".join(pkgs)


def wants_xcb(env: dict | None = None) -> bool:
    """Will Qt try the xcb plugin? (Linux, and no other platform chosen with QT_QPA_PLATFORM.)"""
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux"):
        return False
    platform = env.get("QT_QPA_PLATFORM", "").strip().lower()
    return platform == "" or platform.startswith("xcb")


def problem(env: dict | None = None) -> str:
    """A message naming the missing libraries and the install command; '' when nothing is missing."""
    if not wants_xcb(env):
        return ""
    missing = missing_libraries()
    if not missing:
        return ""
    distro = distribution()
    cmd = install_command(missing, distro)
    how = cmd if distro else f"{cmd}   (Debian/Ubuntu; Fedora: {install_command(missing, 'fedora')})"
    return (
        f"the editor's window needs system libraries that are not installed: {', '.join(missing)}. "
        f"Install them with:\n    {how}\nthen start again (see README, 'System packages')."
    )


def main() -> int:
    message = problem()
    if message:
        sys.stderr.write(f"skipwire: {message}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
