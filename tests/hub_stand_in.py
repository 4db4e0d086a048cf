"""A loopback stand-in for the Hugging Face hub: tiny repos served in the hub's layout on 127.0.0.1.

It answers what a real hub answers to a model download (RESOURCES.md lists it):
    GET /api/models/{org}/{name}/revision/{rev}   {"id", "sha", "siblings": [{"rfilename"}], "gated"}
    GET /api/models/{org}/{name}/tree/{rev}       [{"type": "file", "path", "size", "oid", "lfs"?}]
    HEAD/GET /{org}/{name}/resolve/{rev}/{file}   with X-Repo-Commit and ETag; weight files ("LFS")
        answer 302 to /lfs/... with X-Linked-Etag (their sha256) and X-Linked-Size, as the hub does
    404 with X-Error-Code RepositoryNotFound / EntryNotFound / RevisionNotFound, 401 GatedRepo.
It also answers as an HTTP proxy would (absolute URLs, any host), so a test can check that a proxy
is used. GETs honour `Range: bytes=N-` (206), so a download can resume. Switches make it misbehave on purpose:
`cut_after` closes the connection after that many bytes of a file's body (the server going away),
`wrong_etag` announces an ETag the bytes do not match, `gated` answers 401 for a repo.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LFS_SUFFIXES = (".safetensors", ".bin", ".onnx", ".h5", ".msgpack")  # served like git-LFS objects


class HubStandIn:
    """`with HubStandIn({"org/name": folder}) as hub:` then HF_ENDPOINT=hub.url."""

    def __init__(self, repos: dict[str, Path]):
        self.repos = {repo_id: Path(folder) for repo_id, folder in repos.items()}
        self.gated: set[str] = set()
        self.wrong_etag: set[tuple[str, str]] = set()  # (repo_id, file)
        self.cut_after: dict[str, int] = {}  # file name -> body bytes sent before the connection drops
        self.slow_down_s = 0.0  # pause after each 64 KiB of a body: a slow network, so a test can Cancel mid-file
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def commit(self, repo_id: str) -> str:
        """A stable 40-hex commit id per repo content."""
        digest = hashlib.sha1(repo_id.encode())
        for path in sorted(self._files(repo_id)):
            digest.update(path.encode() + self._file(repo_id, path).read_bytes())
        return digest.hexdigest()

    def start(self) -> HubStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HubStandIn:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _files(self, repo_id: str) -> list[str]:
        root = self.repos[repo_id]
        return [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]

    def _file(self, repo_id: str, path: str) -> Path:
        return self.repos[repo_id] / path


def _is_lfs(path: str) -> bool:
    return path.endswith(LFS_SUFFIXES)


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _handler_for(hub: HubStandIn):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet: tests read hub.requests instead
            pass

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, body: bool) -> None:
            hub.requests.append((self.command, self.path, self.headers.get("Range")))
            # A proxy is asked for absolute URLs ("GET http://hub.example/api/..."): it answers for any host.
            path = urllib.parse.urlsplit(self.path).path if self.path.startswith("http") else self.path.split("?", 1)[0]
            if match := re.fullmatch(r"/api/models/([^/]+/[^/]+)/(revision|tree)/([^/]+)", path):
                return self._api(*match.groups(), body=body)
            if match := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
                return self._resolve(*match.groups(), body=body)
            if match := re.fullmatch(r"/lfs/([^/]+/[^/]+)/(.+)", path):
                return self._send_file(*match.groups(), body=body)
            self._error(404, "EntryNotFound", "no such route")

        def _repo_ok(self, repo_id: str, revision: str) -> bool:
            """Whether the repo is served at that revision; if not, the hub's error is sent."""
            if repo_id not in hub.repos:
                self._error(404, "RepositoryNotFound", f"Repository Not Found for url: {self.path}")
            elif repo_id in hub.gated:
                self._error(401, "GatedRepo", f"Access to model {repo_id} is restricted")
            elif revision not in ("main", hub.commit(repo_id)):
                self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            else:
                return True
            return False

        def _api(self, repo_id: str, kind: str, revision: str, body: bool) -> None:
            if not self._repo_ok(repo_id, revision):
                return
            files = sorted(hub._files(repo_id))
            if kind == "revision":
                payload = {"id": repo_id, "modelId": repo_id, "sha": hub.commit(repo_id), "gated": False,
                           "private": False, "siblings": [{"rfilename": f} for f in files]}
            else:
                payload = [self._tree_entry(repo_id, f) for f in files]
            self._send(200, json.dumps(payload).encode(), {"Content-Type": "application/json"}, body)

        def _tree_entry(self, repo_id: str, path: str) -> dict:
            data = hub._file(repo_id, path).read_bytes()
            entry = {"type": "file", "path": path, "size": len(data), "oid": _git_blob_sha1(data)}
            if _is_lfs(path):
                entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            return entry

        def _resolve(self, repo_id: str, revision: str, path: str, body: bool) -> None:
            if not self._repo_ok(repo_id, revision):
                return
            if not hub._file(repo_id, path).is_file():
                return self._error(404, "EntryNotFound", f"{path} does not exist on {revision}")
            if _is_lfs(path):
                data = hub._file(repo_id, path).read_bytes()
                headers = {"Location": f"/lfs/{repo_id}/{path}", "X-Repo-Commit": hub.commit(repo_id),
                           "X-Linked-Etag": f'"{self._etag(repo_id, path, data)}"', "X-Linked-Size": str(len(data)),
                           "ETag": f'"{_git_blob_sha1(b"pointer " + path.encode())}"'}
                return self._send(302, b"", headers, body)
            self._send_file(repo_id, path, body)

        def _etag(self, repo_id: str, path: str, data: bytes) -> str:
            real = hashlib.sha256(data).hexdigest() if _is_lfs(path) else _git_blob_sha1(data)
            return ("0" * len(real)) if (repo_id, path) in hub.wrong_etag else real

        def _send_file(self, repo_id: str, path: str, body: bool) -> None:
            file = hub._file(repo_id, path)
            if repo_id not in hub.repos or not file.is_file():
                return self._error(404, "EntryNotFound", f"{path} not found")
            data = file.read_bytes()
            headers = {"X-Repo-Commit": hub.commit(repo_id), "ETag": f'"{self._etag(repo_id, path, data)}"',
                       "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
            start = 0
            if (wanted := self.headers.get("Range")) and (match := re.fullmatch(r"bytes=(\d+)-", wanted)):
                start = min(int(match.group(1)), len(data))
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            cut = hub.cut_after.pop(path, None) if body else None
            self._send(206 if start else 200, data[start:], headers, body, cut=cut)

        def _error(self, status: int, code: str, message: str) -> None:
            self._send(status, json.dumps({"error": message}).encode(),
                       {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"}, True)

        def _send(self, status: int, payload: bytes, headers: dict, body: bool, cut: int | None = None) -> None:
            try:
                self._write(status, payload, headers, body, cut)
            except (BrokenPipeError, ConnectionResetError):  # the client went away (a cancelled download)
                self.close_connection = True

        def _write(self, status: int, payload: bytes, headers: dict, body: bool, cut: int | None) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if not body:
                return
            if cut is None and not hub.slow_down_s:
                self.wfile.write(payload)
                return
            if cut is None:
                for start in range(0, len(payload), 1 << 16):
                    self.wfile.write(payload[start:start + (1 << 16)])
                    self.wfile.flush()
                    time.sleep(hub.slow_down_s)
                return
            self.wfile.write(payload[:cut])  # then the server "goes away": the connection closes early
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)

    return Handler
