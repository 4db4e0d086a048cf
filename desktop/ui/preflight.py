"""Before Qt starts: is there a display, and are the system libraries of Qt's X11 (xcb) plugin installed?

Without them Qt prints its plugin message and aborts (exit 134); `display_problem` says instead
what to install, or what works without a display. It imports no Qt.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

FAMILIES = ("debian", "fedora", "arch", "suse")
INSTALL_COMMANDS = {"debian": "sudo apt-get install", "fedora": "sudo dnf install", "arch": "sudo pacman -S",
                    "suse": "sudo zypper install"}

# What PySide6 6.5+'s libqxcb.so and libQt6XcbQpa.so.6 link against (readelf -d), beyond libc and Qt's
# own libraries; for each soname the package providing it on Debian/Ubuntu, Fedora, Arch, openSUSE.
# libxcb-cursor0 (new in Qt 6.5) and libxcb-icccm4/-keysyms1 are the ones minimal installs lack.
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor", "libxcb-cursor0"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm", "libxcb-icccm4"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms", "libxcb-keysyms1"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image", "libxcb-image0"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil", "xcb-util-renderutil", "libxcb-render-util0"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "xcb-util", "libxcb-util1"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11", "libxkbcommon-x11-0"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon", "libxkbcommon0"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb", "libxcb", "libxcb-xkb1"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb", "libxcb", "libxcb-randr0"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb", "libxcb", "libxcb-shape0"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb", "libxcb", "libxcb-sync1"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb", "libxcb", "libxcb-xfixes0"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb", "libxcb", "libxcb-shm0"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb", "libxcb", "libxcb-render0"),
    "libxcb.so.1": ("libxcb1", "libxcb", "libxcb", "libxcb1"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libx11", "libX11-xcb1"),
    "libX11.so.6": ("libx11-6", "libX11", "libx11", "libX11-6"),
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libglvnd", "libGL1"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl", "libglvnd", "libEGL1"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig", "fontconfig", "libfontconfig1"),
}

def display_problem(environ: Mapping[str, str] = os.environ, platform: str = sys.platform,
                    can_load: Callable[[str], bool] | None = None, os_release: str | None = None) -> str | None:
    """Why Qt could not open a window here, as the message to print; None when the app can start.

    Only the xcb platform is checked: on Linux, QT_QPA_PLATFORM unset or xcb, outside a Wayland session.
    `can_load(soname)` and `os_release` (the text of /etc/os-release) are injectable for tests.
    """
    if not _would_use_xcb(environ, platform):
        return None
    if not environ.get("DISPLAY") and not environ.get("WAYLAND_DISPLAY"):
        return _no_display_message()
    can_load = can_load or _can_load
    missing = [soname for soname in XCB_LIBRARIES if not can_load(soname)]
    if not missing:
        return None
    return _missing_libraries_message(missing, distribution_family(_read_os_release() if os_release is None else os_release))


def _would_use_xcb(environ: Mapping[str, str], platform: str) -> bool:
    if not platform.startswith("linux"):
        return False
    requested = environ.get("QT_QPA_PLATFORM", "")
    if requested:  # "xcb", "xcb:option=...", or a list such as "wayland;xcb" tried in order
        return requested.split(";")[0].split(":")[0] == "xcb"
    # unset: Qt 6 takes wayland in a Wayland session, xcb everywhere else
    return not (environ.get("WAYLAND_DISPLAY") and environ.get("XDG_SESSION_TYPE") == "wayland")


def _no_display_message() -> str:
    return ("picsift: no display found (neither DISPLAY nor WAYLAND_DISPLAY is set), so the desktop app cannot open "
            "a window.\n"
            "The command line works without one: `picsift search \"boats at sunset\"` (see `picsift --help`).\n"
            "To run the app in a virtual display instead: `xvfb-run picsift`.")


def _missing_libraries_message(missing: list[str], family: str | None) -> str:
    lines = [f"picsift: the desktop app needs system libraries that are not installed: {', '.join(missing)}."]
    if family is not None:
        lines += ["Install them with:", f"    {install_line(missing, family)}"]
    else:
        lines += ["Install the packages that provide them, for example:"]
        lines += [f"    {install_line(missing, known)}    ({name})" for known, name in
                  (("debian", "Debian, Ubuntu"), ("fedora", "Fedora, RHEL"), ("arch", "Arch"), ("suse", "openSUSE"))]
    lines += ["then start picsift again. The command line works without them: `picsift search \"boats at sunset\"` "
              "(see `picsift --help`)."]
    return "\n".join(lines)


def install_line(missing: list[str], family: str) -> str:
    """The command that installs the packages providing `missing` sonames on this distribution family."""
    column = FAMILIES.index(family)
    packages = list(dict.fromkeys(XCB_LIBRARIES[soname][column] for soname in missing))  # once each, in order
    return f"{INSTALL_COMMANDS[family]} {' '.join(packages)}"


def distribution_family(os_release: str) -> str | None:
    """"debian", "fedora", "arch" or "suse" from /etc/os-release's ID and ID_LIKE; None when unknown."""
    fields = dict(line.split("=", 1) for line in os_release.splitlines() if "=" in line)
    ids = " ".join(fields.get(key, "").strip().strip("\"'") for key in ("ID", "ID_LIKE")).lower().split()
    for name in ids:
        if name in ("debian", "ubuntu"):
            return "debian"
        if name in ("fedora", "rhel", "centos"):
            return "fedora"
        if name == "arch":
            return "arch"
        if "suse" in name:
            return "suse"
    return None


def _read_os_release() -> str:
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            return Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    return ""


def _can_load(soname: str) -> bool:
    """Whether the dynamic loader finds `soname` as Qt's plugin would: beside Qt's libraries, or on the system."""
    if (_qt_library_dir() / soname).exists():
        return True
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def _qt_library_dir() -> Path:
    """PySide6/Qt/lib, found without importing PySide6 (its plugins' RUNPATH points there)."""
    spec = importlib.util.find_spec("PySide6")
    origin = spec.submodule_search_locations[0] if spec and spec.submodule_search_locations else ""
    return Path(origin) / "Qt" / "lib"
