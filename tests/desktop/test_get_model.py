"""Getting a hub model (Model > Get a better model..., `picsift model convert HUB_ID`): download from a loopback
hub stand-in, convert in the trainer process, install; failures leave the current model untouched."""

from __future__ import annotations

import pytest
import torch
from hub_stand_in import HubStandIn
from PySide6.QtWidgets import QPushButton
from safetensors.torch import load_file, save_file
from tiny_models import make_tiny

from desktop.cli import main
from desktop.core import hub_download
from desktop.ui.get_model import GetModelDialog
from models import hub_catalog, registry
from models.manifest import read_manifest

CONVERT_MS = 240_000  # the trainer process loads torch and transformers, converts and checks a tiny model
WAIT_MS = 30_000
GOOD, BROKEN, ABSENT = "acme/tiny-clip", "acme/tiny-clip-nan", "acme/not-there"


def _entry(hub_id: str, recommended: tuple[str, ...] = ()) -> hub_catalog.HubModel:
    return hub_catalog.HubModel(
        hub_id=hub_id, name=hub_id.split("/")[1], family="clip", download_bytes=5_000_000, parameters=1_200_000,
        image_size=32, image_feature_dim=32, embedding_dim=16, languages="en",
        published=(hub_catalog.PublishedFigure("ImageNet", "top-1 %", 1.0, "none"),), gflops_image=0.01,
        gflops_text=0.01, licence="MIT", recommended=recommended)


@pytest.fixture(scope="module")
def tiny_repos(tmp_path_factory):
    root = tmp_path_factory.mktemp("repos")
    good = make_tiny("clip", root / "good")
    broken = make_tiny("clip", root / "broken")
    weights = load_file(broken / "model.safetensors")
    weights["visual_projection.weight"] = torch.full_like(weights["visual_projection.weight"], float("nan"))
    save_file(weights, broken / "model.safetensors", metadata={"format": "pt"})  # a corrupt checkpoint
    return {GOOD: good, BROKEN: broken}


@pytest.fixture
def hub(tiny_repos, monkeypatch):
    monkeypatch.setattr(hub_catalog, "hub_models", lambda: (_entry(GOOD, ("cpu", "gpu")), _entry(BROKEN), _entry(ABSENT)))
    with HubStandIn(tiny_repos) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


@pytest.fixture
def dialog(qtbot, hub, installed_builtin):
    registry.use(registry.DEFAULT_BUNDLE)
    window = GetModelDialog(photos=250)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.get_button.isEnabled(), timeout=WAIT_MS)  # once the machine is measured
    yield window
    window.reject()


def _choose(dialog: GetModelDialog, hub_id: str) -> None:
    dialog.table.selectRow(next(i for i, m in enumerate(dialog.models) if m.hub_id == hub_id))


def _button(dialog: GetModelDialog, text: str) -> QPushButton:
    return next(b for b in dialog.findChildren(QPushButton) if b.text() == text)


def test_the_list_shows_sizes_languages_figures_estimates_and_the_recommended_model(dialog, qtbot):
    qtbot.waitUntil(lambda: dialog.table.item(0, 4).text() != "estimating...", timeout=WAIT_MS)
    assert [dialog.table.item(0, c).text() for c in (0, 1, 2, 3)] == ["tiny-clip  (clip)", "5.0 MB", "en", "ImageNet top-1 % 1"]
    assert "recommended for a CPU laptop" in dialog.table.item(0, 5).text()
    assert dialog.selected_model().hub_id == GOOD  # the CPU recommendation is selected first
    assert dialog.table.item(0, 4).text().startswith("about ")
    assert dialog.table.horizontalHeaderItem(4).text() == "Indexing 250 photos"
    assert "download 5.0 MB" in dialog.details.text() and "vectors for 250 photos" in dialog.details.text()


def test_a_full_download_converts_installs_and_announces_the_model(dialog, qtbot):
    _choose(dialog, GOOD)
    with qtbot.waitSignal(dialog.installed, timeout=CONVERT_MS) as installed:
        _button(dialog, "Download and install").click()
    assert installed.args == ["tiny-clip"]
    manifest = read_manifest(registry.bundle_folder("tiny-clip"))
    assert manifest.provenance["base_weights"] == GOOD
    assert registry.active_name() == registry.DEFAULT_BUNDLE  # the switch is the main window's, after this
    assert not hub_download.downloads_dir(GOOD).exists()  # the download is deleted once installed
    assert "Installed tiny-clip" in dialog.status.text()
    assert not _button(dialog, "Download and install").isEnabled()


def test_cancel_keeps_the_bytes_and_the_next_try_resumes_them(dialog, qtbot, hub):
    hub.slow_down_s = 0.01
    _choose(dialog, GOOD)
    _button(dialog, "Download and install").click()
    qtbot.waitUntil(lambda: "Downloading acme/tiny-clip:" in dialog.status.text(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: hub_download.partial_bytes(GOOD) > 1_000_000, timeout=WAIT_MS)  # into the weights
    _button(dialog, "Cancel").click()
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Cancelled;"), timeout=WAIT_MS)
    assert "resumes where it stopped" in dialog.status.text()
    kept = hub_download.partial_bytes(GOOD)
    assert kept > 0 and not registry.bundle_folder("tiny-clip").exists()
    assert "downloaded, resumes" in dialog.table.item(0, 5).text()
    hub.slow_down_s = 0.0
    hub.requests.clear()
    with qtbot.waitSignal(dialog.installed, timeout=CONVERT_MS):
        _button(dialog, "Download and install").click()
    assert any(r and r != "bytes=0-" for method, _, r in hub.requests if method == "GET")


def test_the_server_going_away_says_so_and_nothing_is_installed(dialog, qtbot, hub):
    hub.cut_after["model.safetensors"] = 100_000
    _choose(dialog, GOOD)
    _button(dialog, "Download and install").click()
    qtbot.waitUntil(lambda: "Nothing was installed" in dialog.status.text(), timeout=WAIT_MS)
    assert "stopped" in dialog.status.text() and "resume" in dialog.status.text()
    assert _button(dialog, "Download and install").isEnabled()
    assert registry.active_name() == registry.DEFAULT_BUNDLE


def test_a_repo_that_does_not_exist_is_one_line_and_the_current_model_keeps_working(dialog, qtbot):
    _choose(dialog, ABSENT)
    _button(dialog, "Download and install").click()
    qtbot.waitUntil(lambda: "Nothing was installed" in dialog.status.text(), timeout=WAIT_MS)
    assert dialog.status.text().startswith("acme/not-there is not on the model hub")
    assert "current model keeps working" in dialog.status.text()


def test_a_file_that_does_not_match_its_etag_is_refused_and_nothing_is_installed(dialog, qtbot, hub):
    hub.wrong_etag.add((GOOD, "model.safetensors"))
    _choose(dialog, GOOD)
    _button(dialog, "Download and install").click()
    qtbot.waitUntil(lambda: "Nothing was installed" in dialog.status.text(), timeout=WAIT_MS)
    assert "does not match the checksum" in dialog.status.text()
    assert not registry.bundle_folder("tiny-clip").exists()


def test_a_model_that_fails_the_parity_gate_installs_nothing_and_leaves_the_current_model(dialog, qtbot):
    _choose(dialog, BROKEN)
    installed = []
    dialog.installed.connect(installed.append)
    _button(dialog, "Download and install").click()
    qtbot.waitUntil(lambda: "Nothing was installed" in dialog.status.text(), timeout=CONVERT_MS)
    assert "ONNX output differs" in dialog.status.text() or "parity" in dialog.status.text()
    assert not installed and not registry.bundle_folder("tiny-clip-nan").exists()
    assert registry.active_name() == registry.DEFAULT_BUNDLE


def test_a_model_that_does_not_fit_on_the_disk_is_refused_before_downloading(dialog, qtbot, hub, monkeypatch):
    monkeypatch.setattr(hub_catalog.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 1_000_000})())
    _choose(dialog, GOOD)
    _button(dialog, "Download and install").click()
    assert "needs" in dialog.status.text() and "free" in dialog.status.text()
    assert not hub.requests  # refused before the hub was asked anything


def test_the_cli_downloads_a_hub_id_with_a_progress_bar_then_converts_and_installs_it(hub, capsys):
    assert main(["model", "convert", GOOD]) == 0
    err = capsys.readouterr().err
    assert "downloading acme/tiny-clip" in err and "MB" in err
    assert read_manifest(registry.bundle_folder("tiny-clip")).provenance["base_weights"] == GOOD
    assert not hub_download.downloads_dir(GOOD).exists()


def test_the_cli_says_in_one_line_when_the_hub_cannot_be_reached(capsys, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    assert main(["model", "convert", GOOD]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("picsift: error: cannot reach the model hub at http://127.0.0.1:9") and "Traceback" not in "".join(err)


def test_the_model_menu_gets_a_hub_model_and_the_window_switches_to_it(qtbot, hub, installed_builtin, builtin_bundle, tmp_path):
    from engine_fixtures import index_all, write_photos
    from PySide6.QtGui import QAction

    from desktop.core.catalog import Catalog
    from desktop.core.library import Library
    from desktop.core.settings import Settings
    from desktop.ui.main_window import MainWindow
    from models.runtime import ModelRuntime

    registry.use(registry.DEFAULT_BUNDLE)
    runtime = ModelRuntime(builtin_bundle, device="cpu")
    write_photos(tmp_path / "photos", names=("chelsea", "coffee", "rocket"))
    library = Library(Catalog(), runtime)
    library.catalog.add_folder(tmp_path / "photos")
    index_all(library)
    window = MainWindow(library, Settings())
    qtbot.addWidget(window)
    window.show()
    next(a for a in window.findChildren(QAction) if a.text() == "&Get a better model...").trigger()
    qtbot.waitUntil(lambda: getattr(window, "get_model_dialog", None) is not None, timeout=WAIT_MS)
    dialog = window.get_model_dialog
    assert dialog.photos == 3
    qtbot.waitUntil(lambda: dialog.get_button.isEnabled(), timeout=WAIT_MS)
    with qtbot.waitSignal(window.indexingFinished, timeout=CONVERT_MS) as finished:  # the switch encodes the 3 photos
        _button(dialog, "Download and install").click()
    assert finished.args[0].encoded == 3
    qtbot.waitUntil(lambda: registry.active_name() == "tiny-clip", timeout=WAIT_MS)
    assert window.library.runtime.manifest.name == "tiny-clip"
    dialog.reject()
