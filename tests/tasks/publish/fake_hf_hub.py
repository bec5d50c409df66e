"""A local HTTP server speaking the few Hugging Face Hub endpoints `HfHub` uses.

Real huggingface_hub talks to it over real HTTP (`HfApi(endpoint=...)`), so the tests
exercise the library's own requests: repo creation, preupload, the LFS batch API and
basic-transfer PUT, the ndjson commit with its `parentCommit` guard, tags, refs, tree
listing and file download. It keeps repositories in memory as commits of files and
records every request. Xet storage is not emulated: tests disable it
(`constants.HF_HUB_DISABLE_XET`) so large files go through the LFS protocol.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlparse

GITATTRIBUTES = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"


@dataclass
class Call:
    method: str
    path: str  # unquoted, without the query
    body: Any  # parsed JSON, a list of ndjson items, or the raw bytes


@dataclass
class FakeRepo:
    private: bool
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # oid -> files
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def files(self, revision: str) -> dict[str, bytes]:
        oid = self.branches.get(revision) or self.tags.get(revision) or revision
        return self.commits[oid]

    def commit(self, files: dict[str, bytes], branch: str = "main") -> str:
        digest = hashlib.sha1(str(len(self.commits)).encode())
        for path in sorted(files):
            digest.update(path.encode() + b"\0" + files[path])
        oid = digest.hexdigest()
        self.commits[oid] = dict(files)
        self.branches[branch] = oid
        return oid


class FakeHfHub:
    """Start with `with FakeHfHub.running(token) as hub:`; `hub.url` is the endpoint."""

    def __init__(self, token: str):
        self.token = token
        self.repos: dict[str, FakeRepo] = {}
        self.lfs: dict[str, bytes] = {}  # sha256 -> content
        self.calls: list[Call] = []
        self.fail: dict[str, int] = {}  # endpoint kind ("commit", "tag", ...) -> status
        self.before_commit: Callable[[FakeRepo], None] | None = None
        self.url = ""
        self._lock = threading.Lock()

    @classmethod
    @contextmanager
    def running(cls, token: str) -> Iterator[FakeHfHub]:
        hub = cls(token)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(hub))
        hub.url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield hub
        finally:
            server.shutdown()
            server.server_close()

    def calls_to(self, kind: str) -> list[Call]:
        return [call for call in self.calls if _kind(call.method, call.path) == kind]

    # -- endpoints -------------------------------------------------------------------

    def handle(self, method: str, path: str, query: str, headers: Any, body: bytes):
        """-> (status, headers, body bytes or JSON-able)."""
        parsed = _parse_body(path, headers.get("Content-Type", ""), body)
        kind = _kind(method, path)
        with self._lock:
            self.calls.append(Call(method, path, parsed))
            if kind in self.fail:
                message = f"scripted {self.fail[kind]}"
                return self.fail[kind], {}, {"error": message, "errors": [{"message": message}]}
            authorized = headers.get("Authorization") == f"Bearer {self.token}"
            return self._route(kind, method, path, parsed, authorized)

    def _route(self, kind, method, path, body, authorized):
        if kind == "validate-yaml":
            return 200, {}, {"errors": [], "warnings": []}
        if kind == "lfs-upload":
            oid = path.rsplit("/", 1)[1]
            if hashlib.sha256(body).hexdigest() != oid:
                return 400, {}, {"error": "sha256 mismatch"}
            self.lfs[oid] = body
            return 200, {}, {}
        if kind == "create-repo":
            if not authorized:
                return 401, {}, {"error": "Invalid credentials in Authorization header"}
            repo_id = f"{body['organization']}/{body['name']}"
            url = {"url": f"{self.url}/datasets/{repo_id}"}
            if repo_id in self.repos:  # the Hub's 409 also gives the url
                return 409, {}, {"error": "You already created this dataset repo", **url}
            repo = FakeRepo(private=body.get("visibility") == "private")
            repo.commit({".gitattributes": GITATTRIBUTES})
            self.repos[repo_id] = repo
            return 200, {}, url

        repo_id, rest = _repo_and_rest(kind, path)
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and not authorized):
            return 404, {"X-Error-Code": "RepoNotFound"}, {"error": "Repository not found"}
        writes = ("preupload", "lfs-batch", "commit", "tag")
        if kind in writes and not authorized:
            return 401, {}, {"error": "Invalid credentials in Authorization header"}
        if kind == "refs":
            return 200, {}, _refs(repo)
        if kind == "preupload":
            files = [
                {
                    "path": f["path"],
                    "uploadMode": "lfs" if f["path"].endswith(".parquet") else "regular",
                    "shouldIgnore": False,
                    "oid": None,
                }
                for f in body["files"]
            ]
            return 200, {}, {"files": files}
        if kind == "lfs-batch":
            objects = [
                {
                    "oid": o["oid"],
                    "size": o["size"],
                    "authenticated": True,
                    "actions": {"upload": {"href": f"{self.url}/lfs-upload/{o['oid']}"}},
                }
                for o in body["objects"]
            ]
            return 200, {}, {"transfer": "basic", "objects": objects}
        if kind == "tree":
            files = repo.files(rest.split("/", 1)[0])
            listing = [
                {"type": "file", "path": p, "oid": hashlib.sha1(c).hexdigest(), "size": len(c)}
                for p, c in sorted(files.items())
            ]
            return 200, {}, listing
        if kind == "commit":
            return self._commit(repo, repo_id, rest, body)
        if kind == "tag":
            if body["tag"] in repo.tags:
                return 409, {}, {"error": f"tag {body['tag']} already exists"}
            repo.tags[body["tag"]] = repo.branches.get(rest, rest)
            return 200, {}, {}
        if kind == "resolve":
            return self._resolve(repo, rest, method)
        return 404, {}, {"error": f"fake hub: no route for {method} {path}"}

    def _commit(self, repo: FakeRepo, repo_id: str, branch: str, items: list[dict]):
        if self.before_commit is not None:
            self.before_commit(repo)
        header = items[0]["value"]
        parent = header.get("parentCommit")
        if parent is not None and repo.branches.get(branch) != parent:
            return 412, {}, {"error": "A commit has happened since. Please refresh and try again."}
        files = dict(repo.files(branch)) if branch in repo.branches else {}
        for item in items[1:]:
            value = item["value"]
            if item["key"] == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif item["key"] == "lfsFile":
                if value["oid"] not in self.lfs:
                    return 422, {}, {"error": f"LFS object {value['oid']} was not uploaded"}
                files[value["path"]] = self.lfs[value["oid"]]
            elif item["key"] == "deletedFile":
                files.pop(value["path"])
        oid = repo.commit(files, branch)
        url = f"{self.url}/datasets/{repo_id}/commit/{oid}"
        return 200, {}, {"success": True, "commitOid": oid, "commitUrl": url}

    def _resolve(self, repo: FakeRepo, rest: str, method: str):
        revision, _, filename = rest.partition("/")
        oid = repo.branches.get(revision) or repo.tags.get(revision) or revision
        content = repo.commits.get(oid, {}).get(filename)
        if content is None:
            return 404, {"X-Error-Code": "EntryNotFound"}, {"error": "Entry not found"}
        headers = {
            "X-Repo-Commit": oid,
            "ETag": f'"{hashlib.sha1(content).hexdigest()}"',
            "Content-Length": str(len(content)),
        }
        return 200, headers, b"" if method == "HEAD" else content


def _kind(method: str, path: str) -> str:
    if path == "/api/repos/create":
        return "create-repo"
    if path == "/api/validate-yaml":
        return "validate-yaml"
    if path.startswith("/lfs-upload/"):
        return "lfs-upload"
    if path.endswith(".git/info/lfs/objects/batch"):
        return "lfs-batch"
    if path.startswith("/datasets/") and "/resolve/" in path:
        return "resolve"
    if path.startswith("/api/datasets/"):
        parts = path.split("/")
        return parts[5] if len(parts) > 5 else "repo-info"
    return "unknown"


def _repo_and_rest(kind: str, path: str) -> tuple[str, str]:
    """Repository id and what follows the endpoint name (revision, file)."""
    if kind == "lfs-batch":
        return path.removeprefix("/datasets/").removesuffix(".git/info/lfs/objects/batch"), ""
    if kind == "resolve":
        _, _, org, name, _, rest = path.split("/", 5)
        return f"{org}/{name}", rest
    parts = path.split("/", 6)  # '', api, datasets, org, name, kind, rest
    return f"{parts[3]}/{parts[4]}", parts[6] if len(parts) > 6 else ""


def _parse_body(path: str, content_type: str, body: bytes) -> Any:
    if "ndjson" in content_type:
        return [json.loads(line) for line in body.splitlines() if line.strip()]
    if "json" in content_type and body:
        return json.loads(body)
    return body


def _refs(repo: FakeRepo) -> dict[str, list[dict[str, str]]]:
    def refs(kind: str, names: dict[str, str]) -> list[dict[str, str]]:
        return [{"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": o} for n, o in names.items()]

    return {
        "branches": refs("heads", repo.branches),
        "tags": refs("tags", repo.tags),
        "converts": [],
    }


def _handler_for(hub: FakeHfHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            url = urlparse(self.path)
            body = self._body()
            status, headers, payload = hub.handle(
                self.command, unquote(url.path), url.query, self.headers, body
            )
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            if not isinstance(payload, bytes):
                self.send_header("Content-Type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()  # the blank line after the last chunk
            return b"".join(chunks)

        do_GET = do_POST = do_PUT = do_HEAD = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
