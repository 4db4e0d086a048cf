"""Download a model repository from the Hugging Face hub (or a mirror) with progress, cancel and resume.

Only what a conversion reads is fetched: the configs, the tokenizer files and one set of weights
(safetensors preferred over pytorch_model.bin; TensorFlow, Flax and ONNX copies are skipped). The
endpoint is `HF_ENDPOINT` when set (a mirror, or a loopback stand-in in tests), else huggingface.co;
proxies come from the usual HTTPS_PROXY / HTTP_PROXY / NO_PROXY variables; HF_TOKEN is sent to the
hub (never to the storage it redirects to) for gated repositories.

A download goes to cache_dir/downloads/<org>--<name>/<commit>/, pinned to the commit the hub named
when it started. Each file is written to `<file>.part` and renamed only once its size and checksum
match what the hub announced (the ETag: sha256 for LFS weights, git's blob sha1 for small files), so
a folder never holds a half or damaged file under its real name. A cancelled or broken download
keeps its .part files, and the next run resumes them with an HTTP Range request.
"""

from __future__ import annotations

import collections
import errno
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from models import paths
from models.errors import DiskFullError, PicsiftError, first_line, is_disk_full
from models.hub_catalog import check_hub_id

DEFAULT_ENDPOINT = "https://huggingface.co"
CHUNK_BYTES = 1 << 20
TIMEOUT_S = 30  # per connection attempt and per read: a stalled server ends the download, resumable
SPEED_WINDOW_S = 5.0  # the speed shown is the average over this many seconds
_KEPT_SUFFIXES = (".json", ".txt", ".model")  # configs, vocabularies, sentencepiece models
_WEIGHT_SETS = ("model.safetensors", "pytorch_model.bin")  # in order of preference
_SKIPPED_JSON = ("model.safetensors.index.json", "pytorch_model.bin.index.json")  # kept only with their shards
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, socket.timeout)


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int


@dataclass(frozen=True)
class RepoListing:
    """What the hub holds for a repo at one commit, cut down to the files a conversion needs."""

    repo_id: str
    commit: str
    files: tuple[RemoteFile, ...]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


@dataclass
class DownloadProgress:
    """One report of a download. `phase`: "listing", "downloading", "done" or "cancelled"."""

    repo_id: str
    phase: str = "listing"
    done_bytes: int = 0
    total_bytes: int = 0
    file: str = ""
    bytes_per_second: float = 0.0
    folder: Path | None = None  # the complete download, once phase is "done"

    @property
    def seconds_left(self) -> float | None:
        if self.bytes_per_second <= 0 or not self.total_bytes:
            return None
        return max(0.0, self.total_bytes - self.done_bytes) / self.bytes_per_second


def repo_listing(repo_id: str, revision: str = "main") -> RepoListing:
    """Ask the hub for the repo's commit and files; raises PicsiftError (missing, gated, offline)."""
    check_hub_id(repo_id)
    quoted = urllib.parse.quote(revision, safe="")
    info = json.loads(_read(f"{endpoint()}/api/models/{repo_id}/revision/{quoted}", repo_id, "its model info"))
    commit = str(info.get("sha") or revision)
    tree = json.loads(_read(f"{endpoint()}/api/models/{repo_id}/tree/{commit}", repo_id, "its file list"))
    sizes = {entry["path"]: int(entry.get("size") or 0) for entry in tree if entry.get("type") == "file"}
    wanted = needed_files(list(sizes))
    if not any(path.endswith((".safetensors", ".bin")) for path in wanted) or "config.json" not in wanted:
        raise PicsiftError(f"{repo_id} has no transformers weights picsift can convert (config.json and "
                           "model.safetensors or pytorch_model.bin); choose another model")
    return RepoListing(repo_id, commit, tuple(RemoteFile(path, sizes[path]) for path in wanted))


def needed_files(paths_in_repo: list[str]) -> list[str]:
    """The top-level configs and tokenizer files, and one set of weights (sharded or not)."""
    top = [p for p in paths_in_repo if "/" not in p]
    chosen = [p for p in top if p.endswith(_KEPT_SUFFIXES) and p not in _SKIPPED_JSON]
    for weights in _WEIGHT_SETS:
        stem, suffix = weights.rsplit(".", 1)
        if weights in top:
            return sorted(chosen + [weights])
        shards = [p for p in top if re.fullmatch(rf"{re.escape(stem)}-\d+-of-\d+\.{suffix}", p)]
        if shards and f"{weights}.index.json" in top:
            return sorted(chosen + shards + [f"{weights}.index.json"])
    return sorted(chosen)


def downloads_dir(repo_id: str) -> Path:
    return paths.cache_dir() / "downloads" / repo_id.replace("/", "--")


def discard(repo_id: str) -> None:
    """Delete a repo's downloads (after its bundle is installed: the bundle holds what is needed)."""
    shutil.rmtree(downloads_dir(repo_id), ignore_errors=True)


def partial_bytes(repo_id: str) -> int:
    """Bytes already on disk from an earlier, unfinished download of this repo (0 if none)."""
    folder = downloads_dir(repo_id)
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def download(repo_id: str, cancel: threading.Event | None = None, listing: RepoListing | None = None) -> Iterator[DownloadProgress]:
    """Download what a conversion needs, yielding progress; the last report says "done" (with the
    folder) or "cancelled". Raises PicsiftError for the hub, the network or the disk."""
    cancel = cancel or threading.Event()
    progress = DownloadProgress(repo_id)
    yield replace(progress)  # a snapshot: the GUI reads it while this goes on
    listing = listing or repo_listing(repo_id)
    folder = downloads_dir(repo_id) / listing.commit
    _drop_other_commits(folder)
    folder.mkdir(parents=True, exist_ok=True)
    progress.phase, progress.total_bytes = "downloading", listing.total_bytes
    progress.done_bytes = sum(_bytes_on_disk(folder, f) for f in listing.files)
    if shutil.disk_usage(folder).free < listing.total_bytes - progress.done_bytes:  # refused before a byte is fetched
        raise DiskFullError.at(folder, listing.total_bytes - progress.done_bytes)
    speed = _Speed(progress.done_bytes)
    for remote in listing.files:
        if cancel.is_set():
            break
        if (folder / remote.path).is_file():
            continue
        progress.file = remote.path
        others = sum(_bytes_on_disk(folder, f) for f in listing.files if f != remote)  # unchanged while this one comes
        for done in _download_file(listing, remote, folder, cancel):  # ends early on cancel, its file closed
            progress.done_bytes = others + done
            progress.bytes_per_second = speed.update(progress.done_bytes)
            yield replace(progress)
    if cancel.is_set():
        progress.phase = "cancelled"
        yield replace(progress)
        return
    progress.phase, progress.folder, progress.file = "done", folder, ""
    progress.done_bytes = progress.total_bytes
    yield replace(progress)


def _drop_other_commits(folder: Path) -> None:
    """Partial downloads of an older commit of the same repo can never be resumed: free their space."""
    if folder.parent.is_dir():
        for other in folder.parent.iterdir():
            if other != folder:
                shutil.rmtree(other, ignore_errors=True)


def _bytes_on_disk(folder: Path, remote: RemoteFile) -> int:
    final, part = folder / remote.path, folder / f"{remote.path}.part"
    return remote.size if final.is_file() else (part.stat().st_size if part.is_file() else 0)


def _download_file(listing: RepoListing, remote: RemoteFile, folder: Path, cancel: threading.Event) -> Iterator[int]:
    """Fetch one file into <file>.part (resuming), yield its bytes so far, verify it, rename it."""
    repo_id = listing.repo_id
    url = f"{endpoint()}/{repo_id}/resolve/{listing.commit}/{urllib.parse.quote(remote.path)}"
    target, expected_hash, size = _locate(url, repo_id, remote)
    part = folder / f"{remote.path}.part"
    have = part.stat().st_size if part.is_file() else 0
    if have > size:  # not a prefix of this file: start over
        part.unlink()
        have = 0
    request = _request(target)
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        with _open(request, repo_id, remote.path) as response:
            if have and response.status != 206:  # the server ignored the range: take it whole
                have = 0
            with open(part, "ab" if have else "wb") as out:
                while not cancel.is_set():
                    chunk = response.read1(CHUNK_BYTES)  # what has arrived: progress and Cancel stay prompt
                    if not chunk:
                        break
                    out.write(chunk)
                    have += len(chunk)
                    yield have
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError.at(folder, max(0, size - have)) from exc
        if not isinstance(exc, _NETWORK_ERRORS):
            raise
        raise _stopped(repo_id, have, size, exc) from exc
    except http.client.HTTPException as exc:
        raise _stopped(repo_id, have, size, exc) from exc
    if cancel.is_set():
        return
    if have != size:
        raise _stopped(repo_id, have, size, None)
    _verify(part, expected_hash, repo_id, remote.path)
    os.replace(part, folder / remote.path)


def _locate(url: str, repo_id: str, remote: RemoteFile) -> tuple[str, str, int]:
    """HEAD the resolve URL without following a redirect, as huggingface_hub does: the hub's own
    answer carries the checksum (X-Linked-Etag for LFS files, ETag otherwise) and the size; the
    redirect's target (storage) is where the bytes come from."""
    request = _request(url, method="HEAD")
    try:
        response = _opener(url, follow_redirects=False).open(request, timeout=TIMEOUT_S)
        headers, target = response.headers, url
        response.close()
    except urllib.error.HTTPError as exc:
        if exc.code not in (301, 302, 303, 307, 308):
            raise _hub_error(exc, repo_id, remote.path) from exc
        headers, target = exc.headers, urllib.parse.urljoin(url, exc.headers.get("Location", url))
    except _NETWORK_ERRORS as exc:
        raise _unreachable(exc) from exc
    etag = _clean_etag(headers.get("X-Linked-Etag") or headers.get("ETag") or "")
    size = int(headers.get("X-Linked-Size") or headers.get("Content-Length") or remote.size)
    return target, etag, size


def _clean_etag(value: str) -> str:
    return value.strip().removeprefix("W/").strip('"').lower()


def _verify(part: Path, expected: str, repo_id: str, name: str) -> None:
    """The bytes must hash to the ETag the hub announced; a damaged file is deleted."""
    if len(expected) == 64:
        digest = hashlib.sha256()
    elif len(expected) == 40:  # git's blob id: sha1 of "blob <size>\0" + content
        digest = hashlib.sha1(b"blob %d\0" % part.stat().st_size)
    else:
        return  # a mirror that announces no content hash: the size check is all there is
    with open(part, "rb") as data:
        for block in iter(lambda: data.read(CHUNK_BYTES), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        part.unlink(missing_ok=True)
        raise PicsiftError(f"{name} from {repo_id} does not match the checksum the hub gave for it (damaged on "
                           "the way, or a misbehaving mirror); it was deleted: download it again")


class _Speed:
    """Bytes per second over the last SPEED_WINDOW_S seconds."""

    def __init__(self, start_bytes: int):
        self._samples = collections.deque([(time.monotonic(), start_bytes)])

    def update(self, done: int) -> float:
        now = time.monotonic()
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > SPEED_WINDOW_S:
            self._samples.popleft()
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0


# --- HTTP ----------------------------------------------------------------------------------------------


class _KeepRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # surfaces the 3xx as an HTTPError carrying the hub's headers


def _opener(url: str, follow_redirects: bool = True) -> urllib.request.OpenerDirector:
    """urllib's opener (proxies from the environment), except that a loopback endpoint (a local
    mirror, a test's stand-in) never goes through a proxy."""
    handlers = [] if follow_redirects else [_KeepRedirect()]
    if urllib.parse.urlsplit(url).hostname in _LOOPBACK:
        handlers.append(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener(*handlers)


def _request(url: str, method: str = "GET") -> urllib.request.Request:
    request = urllib.request.Request(url, method=method, headers={"User-Agent": "picsift"})
    token = os.environ.get("HF_TOKEN")
    if token and url.startswith(endpoint()):
        request.add_unredirected_header("Authorization", f"Bearer {token}")  # never to the storage redirect
    return request


def _open(request: urllib.request.Request, repo_id: str, what: str):
    try:
        return _opener(request.full_url).open(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        raise _hub_error(exc, repo_id, what) from exc
    except _NETWORK_ERRORS as exc:
        raise _unreachable(exc) from exc


def _read(url: str, repo_id: str, what: str) -> bytes:
    try:
        with _open(_request(url), repo_id, what) as response:
            return response.read()
    except _NETWORK_ERRORS as exc:
        raise _unreachable(exc) from exc


def _hub_error(exc: urllib.error.HTTPError, repo_id: str, what: str) -> PicsiftError:
    code = exc.headers.get("X-Error-Code", "") if exc.headers else ""
    if code == "RepositoryNotFound" or (exc.code == 404 and not code):
        return PicsiftError(f"{repo_id} is not on the model hub ({endpoint()}), or is private; check the id")
    if code == "GatedRepo" or exc.code in (401, 403):
        return PicsiftError(f"{repo_id} is gated: accept its licence on its hub page, then set HF_TOKEN to an "
                            "access token of that account and try again")
    if code == "RevisionNotFound":
        return PicsiftError(f"{repo_id} has no such revision on the hub")
    if code == "EntryNotFound":
        return PicsiftError(f"the hub lists {what} in {repo_id} but does not serve it; try again later")
    return PicsiftError(f"the model hub answered {exc.code} for {what} of {repo_id}; try again later")


def _unreachable(exc: BaseException) -> PicsiftError:
    reason = getattr(exc, "reason", None) or exc
    return PicsiftError(f"cannot reach the model hub at {endpoint()} ({_reason(reason)}); check the network, "
                        "a proxy (HTTPS_PROXY) or a mirror (HF_ENDPOINT); the built-in model keeps working")


def _stopped(repo_id: str, have: int, size: int, exc: BaseException | None) -> PicsiftError:
    why = f" ({_reason(exc)})" if exc is not None else ""
    return PicsiftError(f"the download of {repo_id} stopped{why} with {have / 1e6:.1f} of {size / 1e6:.1f} MB of a "
                        "file; start it again to resume where it stopped")


def _reason(exc: BaseException | str) -> str:
    if isinstance(exc, OSError) and exc.errno in (errno.ECONNREFUSED,):
        return "connection refused"
    return first_line(exc)
