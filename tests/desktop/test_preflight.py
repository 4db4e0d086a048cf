"""Before Qt starts: a missing display or missing xcb libraries give one message and exit 1, never Qt's abort."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from desktop.ui.preflight import XCB_LIBRARIES, display_problem, distribution_family

UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n'
X11 = {"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}


def _without(*missing: str):
    return lambda soname: soname not in missing


def test_a_missing_xcb_cursor_library_names_the_exact_apt_line_on_ubuntu():
    message = display_problem(X11, "linux", _without("libxcb-cursor.so.0"), UBUNTU)
    assert "libxcb-cursor.so.0" in message
    assert "    sudo apt-get install libxcb-cursor0\n" in message
    assert "picsift search" in message  # what works meanwhile


@pytest.mark.parametrize(("os_release", "line"), [
    ('ID=fedora\nVERSION_ID=40\n', "sudo dnf install xcb-util-cursor xcb-util-wm"),
    ('ID="rocky"\nID_LIKE="rhel centos fedora"\n', "sudo dnf install xcb-util-cursor xcb-util-wm"),
    ("ID=arch\n", "sudo pacman -S xcb-util-cursor xcb-util-wm"),
    ('ID=manjaro\nID_LIKE=arch\n', "sudo pacman -S xcb-util-cursor xcb-util-wm"),
    ('ID="opensuse-tumbleweed"\nID_LIKE="opensuse suse"\n', "sudo zypper install libxcb-cursor0 libxcb-icccm4"),
    ('ID=debian\nVERSION_ID="12"\n', "sudo apt-get install libxcb-cursor0 libxcb-icccm4"),
])
def test_each_distribution_gets_its_own_install_line(os_release, line):
    message = display_problem(X11, "linux", _without("libxcb-cursor.so.0", "libxcb-icccm.so.4"), os_release)
    assert f"    {line}\n" in message


def test_a_package_that_provides_several_missing_libraries_is_named_once():
    message = display_problem(X11, "linux", _without("libxcb-xkb.so.1", "libxcb-shm.so.0", "libxcb.so.1"), "ID=fedora\n")
    assert "    sudo dnf install libxcb\n" in message


def test_an_unknown_distribution_gets_the_lines_of_the_common_ones():
    message = display_problem(X11, "linux", _without("libxcb-cursor.so.0"), "ID=nixos\n")
    assert "sudo apt-get install libxcb-cursor0" in message and "sudo dnf install xcb-util-cursor" in message


def test_no_display_at_all_points_to_the_command_line_and_xvfb():
    message = display_problem({}, "linux", _without(*XCB_LIBRARIES), UBUNTU)
    assert message.startswith("picsift: no display found")
    assert "picsift search" in message and "xvfb-run picsift" in message


def test_all_libraries_present_lets_the_app_start():
    assert display_problem(X11, "linux", lambda soname: True, UBUNTU) is None


@pytest.mark.parametrize("environ", [
    {"QT_QPA_PLATFORM": "offscreen"},
    {"QT_QPA_PLATFORM": "wayland", "WAYLAND_DISPLAY": "wayland-0"},
    {"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"},
])
def test_platforms_other_than_xcb_are_not_checked(environ):
    assert display_problem(environ, "linux", _without(*XCB_LIBRARIES), UBUNTU) is None


def test_an_explicit_xcb_platform_is_checked_even_in_a_wayland_session():
    environ = {"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"}
    assert "libxcb-cursor.so.0" in display_problem(environ, "linux", _without("libxcb-cursor.so.0"), UBUNTU)


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_macos_and_windows_are_not_checked(platform):
    assert display_problem({}, platform, _without(*XCB_LIBRARIES), "") is None


def test_distribution_family_reads_id_like_when_id_is_unknown():
    assert distribution_family('ID=pop\nID_LIKE="ubuntu debian"\n') == "debian"
    assert distribution_family("") is None


def test_picsift_without_a_display_prints_one_message_and_exits_1_instead_of_aborting(tmp_path):
    environ = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([sys.executable, "-m", "desktop.cli"], env=environ, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("picsift: no display found") and "xvfb-run picsift" in result.stderr
    assert "qt.qpa" not in result.stderr
