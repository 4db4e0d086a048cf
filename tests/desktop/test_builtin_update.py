"""An installed built-in model v1 (from an older picsift) is offered the update to v2, by the app and the command line."""

from __future__ import annotations

import pytest
from engine_fixtures import write_photos

from desktop.cli import main
from models import paths, registry


@pytest.fixture
def installed_v1(builtin_v1_bundle):
    """Model v1 installed under the built-in's name, as an older picsift left it."""
    link = paths.models_dir() / registry.DEFAULT_BUNDLE
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(builtin_v1_bundle, target_is_directory=True)
    return link


def test_an_installed_v1_is_outdated_and_v2_is_not(builtin_bundle, builtin_v1_bundle, installed_v1):
    assert registry.builtin_outdated()
    installed_v1.unlink()
    installed_v1.symlink_to(builtin_bundle, target_is_directory=True)
    assert not registry.builtin_outdated()


def test_nothing_installed_is_not_outdated():
    assert not registry.builtin_outdated() and registry.default_build_needed()


def test_the_command_line_says_how_to_update_and_still_searches_with_v1(installed_v1, tmp_path, capsys):
    write_photos(tmp_path / "lib", names=("chelsea", "coffee"))
    assert main(["index", str(tmp_path / "lib")]) == 0
    capsys.readouterr()
    assert main(["search", "a tabby cat"]) == 0
    out, err = capsys.readouterr()
    assert out.strip().endswith("chelsea.jpg")
    assert "better built-in model is available" in err and "picsift model build-default --force" in err


def test_the_app_offers_the_update_in_its_status_bar_and_model_menu(qtbot, installed_v1):
    from desktop.core.library import Library
    from desktop.core.settings import Settings
    from desktop.ui.main_window import MainWindow

    window = MainWindow(Library(), Settings())
    qtbot.addWidget(window)
    window.offer_builtin_update()
    assert "Model > Update the built-in model" in window.status_label.text()
    assert window.update_builtin_action.isEnabled()
