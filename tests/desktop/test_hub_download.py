"""Downloading a model repo from a hub: against a loopback stand-in serving a repo in the hub's layout."""

from __future__ import annotations

import threading

import pytest
from hub_stand_in import HubStandIn

from desktop.core import hub_download
from models.errors import PicsiftError

REPO = "acme/tiny-clip"
WEIGHTS = bytes(range(256)) * 12_000  # 3 MB: several chunks, so progress and a cut land mid-file


@pytest.fixture
def repo(tmp_path):
    folder = tmp_path / "repo"
    (folder / "onnx").mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "clip"}')
    (folder / "tokenizer.json").write_text('{"version": "1.0"}')
    (folder / "preprocessor_config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(WEIGHTS)
    for skipped in ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "README.md", "onnx/model.onnx"):
        (folder / skipped).write_bytes(b"not needed")
    return folder


@pytest.fixture
def hub(repo, monkeypatch):
    with HubStandIn({REPO: repo}) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


def run(cancel_after_bytes: int | None = None) -> list[hub_download.DownloadProgress]:
    cancel = threading.Event()
    reports = []
    for progress in hub_download.download(REPO, cancel):
        reports.append((progress.phase, progress.done_bytes, progress.folder))
        if cancel_after_bytes is not None and progress.done_bytes >= cancel_after_bytes:
            cancel.set()
    return reports


def test_a_download_fetches_configs_tokenizer_and_one_set_of_weights_with_growing_progress(hub, repo):
    reports = run()
    phase, done, folder = reports[-1]
    assert phase == "done"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors", "preprocessor_config.json",
                                                        "tokenizer.json"]
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS
    assert folder.name == hub.commit(REPO)  # pinned to the commit the hub named
    counts = [d for p, d, _ in reports if p == "downloading"]
    assert counts == sorted(counts) and len(counts) >= 3
    assert done == hub_download.repo_listing(REPO).total_bytes


def test_cancel_keeps_the_partial_file_and_the_next_run_resumes_it_with_a_range_request(hub):
    reports = run(cancel_after_bytes=1_000_000)
    assert reports[-1][0] == "cancelled"
    assert 0 < hub_download.partial_bytes(REPO) < len(WEIGHTS)
    hub.requests.clear()
    assert run()[-1][0] == "done"
    ranges = [r for method, path, r in hub.requests if method == "GET" and path.endswith("model.safetensors")]
    assert ranges and ranges[0].startswith("bytes=") and ranges[0] != "bytes=0-"


def test_cancel_before_a_file_starts_stops_there_and_never_reports_done(hub):
    cancel = threading.Event()
    reports = []
    for progress in hub_download.download(REPO, cancel):
        reports.append(progress.phase)
        cancel.set()  # at the first report, before any file: as a Cancel landing between two files
    assert reports[-1] == "cancelled" and "done" not in reports
    folder = hub_download.downloads_dir(REPO) / hub.commit(REPO)
    assert not (folder / "model.safetensors").exists()


def test_the_server_going_away_mid_download_says_so_and_a_later_run_resumes(hub):
    hub.cut_after["model.safetensors"] = 1_500_000
    with pytest.raises(PicsiftError, match="stopped.*start it again to resume"):
        run()
    folder = hub_download.downloads_dir(REPO) / hub.commit(REPO)
    assert not (folder / "model.safetensors").exists()  # never a half file under its real name
    assert (folder / "model.safetensors.part").stat().st_size == 1_500_000
    assert run()[-1][0] == "done"
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS


def test_a_hub_that_is_not_there_says_the_network_is_unreachable_and_the_built_in_keeps_working(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(PicsiftError, match="cannot reach the model hub at http://127.0.0.1:9.*built-in model keeps working"):
        run()


def test_a_proxy_from_the_environment_carries_the_download(hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://hub.example.invalid")  # no such host: only the proxy can answer
    monkeypatch.setenv("http_proxy", hub.url)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert run()[-1][0] == "done"
    assert hub.requests[0][1] == "http://hub.example.invalid/api/models/acme/tiny-clip/revision/main"


def test_a_repo_that_does_not_exist_says_so(hub):
    with pytest.raises(PicsiftError, match="acme/no-such-model is not on the model hub"):
        list(hub_download.download("acme/no-such-model"))


def test_a_gated_repo_says_how_to_get_access(hub):
    hub.gated.add(REPO)
    with pytest.raises(PicsiftError, match="gated.*HF_TOKEN"):
        run()


def test_a_file_that_does_not_match_its_etag_is_deleted_and_reported(hub):
    hub.wrong_etag.add((REPO, "model.safetensors"))
    with pytest.raises(PicsiftError, match="model.safetensors from acme/tiny-clip does not match the checksum"):
        run()
    folder = hub_download.downloads_dir(REPO) / hub.commit(REPO)
    assert not (folder / "model.safetensors").exists() and not (folder / "model.safetensors.part").exists()


def test_a_small_file_with_a_wrong_git_etag_is_refused_too(hub):
    hub.wrong_etag.add((REPO, "config.json"))
    with pytest.raises(PicsiftError, match="config.json from acme/tiny-clip does not match"):
        run()


def test_a_bad_hub_id_is_refused_before_any_request():
    with pytest.raises(PicsiftError, match="is not a hub model id"):
        hub_download.repo_listing("../etc/passwd")


def test_sharded_weights_are_fetched_with_their_index_and_safetensors_win_over_pytorch():
    files = ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
             "model.safetensors.index.json", "pytorch_model.bin", "tf_model.h5", "vocab.txt", "spiece.model"]
    assert hub_download.needed_files(files) == ["config.json", "model-00001-of-00002.safetensors",
                                                "model-00002-of-00002.safetensors", "model.safetensors.index.json",
                                                "spiece.model", "vocab.txt"]
    assert hub_download.needed_files(["config.json", "pytorch_model.bin"]) == ["config.json", "pytorch_model.bin"]


def test_a_repo_without_transformers_weights_is_refused_with_a_reason(hub, repo):
    (repo / "model.safetensors").unlink()
    (repo / "pytorch_model.bin").unlink()
    with pytest.raises(PicsiftError, match="no transformers weights"):
        run()
