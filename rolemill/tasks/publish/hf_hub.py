"""`HfHub`: publish dataset versions to a dataset repository on the Hugging Face Hub.

A version is ONE commit on `main` holding exactly the staged tree (README.md,
manifest.json, data/**.parquet; files of the previous version that the tree no longer
has are deleted in the same commit), then a tag `vX.Y.Z` on that commit. The Parquet
files are pre-uploaded first (to the Hub's large-file storage, invisible until a commit
references them). The commit names its parent: the head of `main` when this hub read
the latest version. If anyone committed since, the Hub refuses the commit (409/412)
and no tag is made; readers address versions by tag, so they see a whole version or
none of it, and a commit that lost its tag (a crash between commit and tag) is not a
version: the next publish commits on top of it.

The token comes from HF_TOKEN, else a Prefect Secret block (`publish.token_secret`, or
the ROLEMILL_HF_TOKEN_SECRET variable), else huggingface_hub's saved login. It is
registered for redaction and never put in a message.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, get_token
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
)
from huggingface_hub.hf_api import GitRefs

from rolemill.schemas.manifest import MANIFEST_FILENAME, Manifest
from rolemill.tasks.llm.secrets import redact, register_secret, secret_block_value
from rolemill.tasks.publish.dataset_tree import manifest_text
from rolemill.tasks.publish.hub import (
    HubError,
    PublishedVersion,
    VersionInfo,
    as_version,
    check_new_version,
    checked_manifest,
    parse_manifest,
    unknown_version,
)
from rolemill.tasks.publish.targets import HF_PREFIX
from rolemill.tasks.publish.versioning import Version

REPO_TYPE = "dataset"
BRANCH = "main"
TOKEN_SECRET_ENV = "ROLEMILL_HF_TOKEN_SECRET"
KEPT_FILES = frozenset({".gitattributes"})  # the Hub's own file, never deleted by a version
CONFLICT_STATUSES = (409, 412)  # conflict / parent_commit is no longer the head
TOKEN_HINT = (
    "set HF_TOKEN to a Hugging Face token with write access to the repository, or name "
    f"a Prefect Secret block holding one in publish.token_secret (or {TOKEN_SECRET_ENV})"
)


@dataclass(frozen=True)
class _Base:
    """The head of `main` a new version is built on (None: the repo has no commit)."""

    head: str | None
    existed: bool = True  # False: the repository was missing when it was read

    def moved(self, head: str | None, published: bool) -> bool:
        """Did someone commit since? A repository created meanwhile only counts once
        it holds a version (creating it commits the Hub's .gitattributes)."""
        return head != self.head and (self.existed or published)


class HfHub:
    """A dataset repository `<org>/<name>` on the Hugging Face Hub; `workdir` caches
    downloaded manifests."""

    def __init__(
        self,
        repo_id: str,
        workdir: Path,
        *,
        private: bool = False,
        token_secret: str | None = None,
        endpoint: str | None = None,
    ):
        self.repo_id = repo_id
        self.remote = f"{HF_PREFIX}{repo_id}"
        self.workdir = Path(workdir)
        self.private = private
        self.token_secret = token_secret or os.environ.get(TOKEN_SECRET_ENV) or None
        self.api = HfApi(endpoint=endpoint, library_name="rolemill")
        self._token: str | None = None
        self._token_resolved = False
        self._base: _Base | None = None

    # -- reading ---------------------------------------------------------------------

    def versions(self) -> list[Version]:
        """Published versions, oldest first; [] for a missing repository."""
        return sorted(self._tagged_commits())

    def latest_manifest(self) -> Manifest | None:
        """The newest version's manifest; also records `main`'s head as the base the
        next publish must commit on."""
        tagged = self._tagged_commits(record_base=True)
        if not tagged:
            return None
        latest = max(tagged)
        return self._read_manifest(latest, tagged[latest])

    def manifest(self, version: Version | str) -> Manifest:
        version = as_version(version)
        tagged = self._tagged_commits()
        if version not in tagged:
            raise unknown_version(self.remote, version, sorted(tagged))
        return self._read_manifest(version, tagged[version])

    def list_versions(self) -> list[VersionInfo]:
        """Every version, oldest first; its date is when its dataset tree was written."""
        tagged = self._tagged_commits()
        infos = []
        for version in sorted(tagged):
            manifest = self._read_manifest(version, tagged[version])
            infos.append(VersionInfo(version, version.tag, manifest.created, manifest.rows()))
        return infos

    # -- writing ---------------------------------------------------------------------

    def ensure_remote(self) -> None:
        """Create the dataset repository (private if asked) unless it exists."""
        token = self._write_token()
        with self._calls("create the dataset repository"):
            self.api.create_repo(
                self.repo_id,
                repo_type=REPO_TYPE,
                private=self.private or None,
                exist_ok=True,
                token=token,
            )

    def publish(self, tree: Path, version: Version, message: str) -> PublishedVersion:
        """Pre-upload the Parquet, ONE commit guarded by its parent, then the tag."""
        tree = Path(tree)
        manifest = checked_manifest(tree, version)
        token = self._write_token()
        self.ensure_remote()
        base = self._base
        refs = self._refs()
        if refs is None:
            raise HubError(f"hub {self.remote} is missing after creating it; {TOKEN_HINT}")
        head = _main_head(refs)
        published = list(_version_tags(refs))
        if base is not None and base.moved(head, bool(published)):
            raise self._conflict(base.head, head)
        check_new_version(version, published, self.remote)

        additions = [
            CommitOperationAdd(path_in_repo=path, path_or_fileobj=str(tree / path))
            for path in _tree_files(tree)
            if path != MANIFEST_FILENAME
        ]
        additions.append(
            CommitOperationAdd(
                path_in_repo=MANIFEST_FILENAME,
                path_or_fileobj=manifest_text(manifest).encode("utf-8"),
            )
        )
        parquet = [op for op in additions if op.path_in_repo.endswith(".parquet")]
        with self._calls("pre-upload the Parquet files"):
            self.api.preupload_lfs_files(
                self.repo_id, additions=parquet, repo_type=REPO_TYPE, revision=BRANCH,
                token=token, free_memory=False,
            )  # fmt: skip
        kept = {op.path_in_repo for op in additions} | KEPT_FILES
        deletions = [
            CommitOperationDelete(path_in_repo=path)
            for path in self._files_at(head)
            if path not in kept
        ]
        with self._calls(f"commit {version.tag}", guarded_by=_Base(head)):
            commit = self.api.create_commit(
                self.repo_id, [*additions, *deletions], commit_message=message,
                repo_type=REPO_TYPE, revision=BRANCH, parent_commit=head, token=token,
            )  # fmt: skip
        with self._calls(f"tag {version.tag}", guarded_by=_Base(head)):
            self.api.create_tag(
                self.repo_id, tag=version.tag, tag_message=message, revision=commit.oid,
                repo_type=REPO_TYPE, token=token,
            )  # fmt: skip
        self._base = _Base(commit.oid)
        return PublishedVersion(remote=self.remote, tag=version.tag, commit=commit.oid)

    # -- internals -------------------------------------------------------------------

    def _refs(self) -> GitRefs | None:
        """The repository's branches and tags; None if it does not exist (or is
        private and no token was given)."""
        try:
            with self._calls("list branches and tags"):
                return self.api.list_repo_refs(
                    self.repo_id, repo_type=REPO_TYPE, token=self._read_token()
                )
        except HubError as error:
            if isinstance(error.__cause__, RepositoryNotFoundError):
                return None
            raise

    def _tagged_commits(self, record_base: bool = False) -> dict[Version, str]:
        refs = self._refs()
        if record_base:
            self._base = _Base(_main_head(refs), True) if refs is not None else _Base(None, False)
        return _version_tags(refs) if refs is not None else {}

    def read_file(self, version: Version | str, path: str, dest: Path) -> Path | None:
        version = as_version(version)
        tagged = self._tagged_commits()
        if version not in tagged:
            raise unknown_version(self.remote, version, sorted(tagged))
        downloaded = self._download(version, tagged[version], path)
        if downloaded is None:
            return None
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(downloaded, dest)
        return dest

    def read_texts(self, version: Version | str, paths: Sequence[str]) -> dict[str, str]:
        version = as_version(version)
        tagged = self._tagged_commits()
        if version not in tagged:
            raise unknown_version(self.remote, version, sorted(tagged))
        found = {path: self._download(version, tagged[version], path) for path in paths}
        return {path: file.read_text(encoding="utf-8") for path, file in found.items() if file}

    def _download(self, version: Version, commit: str, path: str) -> Path | None:
        """The Hub's copy of `path` at a version's commit (in our cache); None on its 404."""
        try:
            with self._calls(f"download {path} of {version.tag}"):
                return Path(
                    self.api.hf_hub_download(
                        self.repo_id, path, repo_type=REPO_TYPE, revision=commit,
                        cache_dir=self.workdir / "hf-cache", token=self._read_token(),
                    )
                )  # fmt: skip
        except HubError as error:
            cause = error.__cause__  # a 404 from the Hub, not a cache miss while offline
            if isinstance(cause, EntryNotFoundError) and isinstance(cause, HfHubHTTPError):
                return None
            raise

    def _read_manifest(self, version: Version, commit: str) -> Manifest:
        path = self._download(version, commit, MANIFEST_FILENAME)
        if path is None:
            raise HubError(
                f"version {version.tag} on hub {self.remote} has no {MANIFEST_FILENAME}; "
                "it was not published by rolemill"
            )
        return parse_manifest(path.read_text(encoding="utf-8"), version.tag, self.remote)

    def _files_at(self, head: str | None) -> list[str]:
        if head is None:
            return []
        with self._calls("list the files of the current version"):
            return self.api.list_repo_files(
                self.repo_id, repo_type=REPO_TYPE, revision=head, token=self._read_token()
            )

    def _conflict(self, based_on: str | None, now: str | None) -> HubError:
        since = f"commit {based_on[:12]}" if based_on else "it was empty"
        moved = f" (main is now at {now[:12]})" if now else ""
        return HubError(
            f"someone else published to {self.remote} since this build read it at {since}"
            f"{moved}: rebuild to publish on top of it; nothing was tagged"
        )

    def _read_token(self) -> str | None:
        if not self._token_resolved:
            self._token = _resolve_token(self.token_secret)
            self._token_resolved = True
        return self._token

    def _write_token(self) -> str:
        token = self._read_token()
        if not token:
            raise HubError(f"no token to publish to {self.remote}: {TOKEN_HINT}")
        return token

    @contextmanager
    def _calls(self, doing: str, guarded_by: _Base | None = None) -> Iterator[None]:
        """Turn huggingface_hub failures into a HubError saying what to do. The
        original stays as __cause__; its text is shown only redacted. `guarded_by`: the
        call must fail if `main` moved from that base, and a conflict means it did."""
        try:
            yield
        except HfHubHTTPError as error:
            status = error.response.status_code
            if guarded_by is not None and status in CONFLICT_STATUSES:
                raise self._conflict(guarded_by.head, None) from error
            if isinstance(error, RepositoryNotFoundError):  # the Hub says 401 or 404
                raise HubError(
                    f"hub {self.remote} has no such dataset repository (HTTP {status}); check "
                    f"the name in publish.target, or if it is private: {TOKEN_HINT}"
                ) from error
            if status in (401, 403):
                raise HubError(
                    f"hub {self.remote} refused to {doing} (HTTP {status}): {TOKEN_HINT}"
                ) from error
            detail = redact(error.server_message or str(error).strip().splitlines()[0])
            raise HubError(
                f"hub {self.remote} failed to {doing} (HTTP {status}: {detail}); retry later, "
                "or check the Hub's status"
            ) from error
        except ValueError as error:  # e.g. the Hub found the card's YAML invalid
            raise HubError(
                f"hub {self.remote} refused to {doing}: {redact(str(error)).strip()}"
            ) from error
        except Exception as error:
            if not _is_transport_error(error):
                raise
            raise HubError(
                f"cannot reach the Hugging Face Hub at {self.api.endpoint} to {doing} "
                f"({type(error).__name__}); check the network, or HF_ENDPOINT"
            ) from error


def _resolve_token(block_name: str | None) -> str | None:
    """HF_TOKEN, else the named Prefect Secret block, else huggingface_hub's login."""
    token = os.environ.get("HF_TOKEN") or None
    if token is None and block_name:
        try:
            token = secret_block_value(block_name)
        except Exception as exc:  # the block is missing or the Prefect server unreachable
            raise HubError(
                f"could not load the Prefect Secret block {block_name!r} named by "
                f"publish.token_secret ({type(exc).__name__}); create it, or set HF_TOKEN"
            ) from None
    token = token or get_token()
    if token:
        register_secret(token)
    return token


def _main_head(refs: GitRefs) -> str | None:
    return next((ref.target_commit for ref in refs.branches if ref.name == BRANCH), None)


def _version_tags(refs: GitRefs) -> dict[Version, str]:
    """Version -> tagged commit, for the tags that are versions."""
    tagged: dict[Version, str] = {}
    for ref in refs.tags:
        try:
            tagged[Version.parse(ref.name)] = ref.target_commit
        except ValueError:
            continue  # not one of ours
    return tagged


def _tree_files(tree: Path) -> list[str]:
    """Every file of a dataset tree, relative, with '/' separators."""
    return sorted(
        path.relative_to(tree).as_posix()
        for path in tree.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(tree).parts
    )


def _is_transport_error(error: Exception) -> bool:
    """A network failure, from huggingface_hub or whichever HTTP client it uses."""
    package = type(error).__module__.partition(".")[0]
    network = (ConnectionError, TimeoutError, LocalEntryNotFoundError)
    return isinstance(error, network) or package in ("httpx", "httpx2", "requests", "urllib3")
