"""`GitLfsHub`: publish dataset versions to a git remote, Parquet stored in git-LFS.

The remote is a bare repository path (the local hub, `data/hub/<name>.git`) or any
git URL. Branch `main` holds the latest version; each version is an annotated tag
`vX.Y.Z`. A version goes up in ONE atomic push of the branch and the tag: the LFS
pre-push hook uploads the Parquet objects before any ref moves, so a reader sees the
whole version or none of it, and an existing tag is never moved (versions are
immutable). `manifest.json` is a plain git file, so versions and row counts are read
by fetching tags alone, without downloading any Parquet; `read_file` downloads one
file's LFS object (a version's dedup index) and nothing else.

git-lfs (3.3 checked) transfers to a local path remote by itself: it turns the path
into a `file://` endpoint served by its standalone file transfer, and stores objects
under `<bare repo>/lfs/objects`. Git runs with a fixed identity, no prompts and no
signing, whatever the user's git config says.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

from rolemill.schemas.manifest import MANIFEST_FILENAME, Manifest
from rolemill.tasks.publish.dataset_tree import file_sha256, write_manifest
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
from rolemill.tasks.publish.versioning import Version

__all__ = ["GitLfsHub", "HubError", "PublishedVersion", "VersionInfo"]

BRANCH = "main"
# Parquet and the card's plots (binary, as the Hugging Face Hub stores them) go to LFS.
LFS_ATTRIBUTES = (
    "*.parquet filter=lfs diff=lfs merge=lfs -text\n*.png filter=lfs diff=lfs merge=lfs -text\n"
)
LFS_POINTER_PREFIX = "version https://git-lfs.github.com/spec/v1"
SCRATCH_OWNER = "owner.pid"  # in a publish's scratch folder: the publishing process

# Given to every git command: our identity, never a prompt, a signature or an editor.
_GIT_OPTIONS = (
    "-c", "user.name=rolemill",
    "-c", "user.email=rolemill@localhost",
    "-c", "commit.gpgSign=false",
    "-c", "tag.gpgSign=false",
    "-c", "tag.forceSignAnnotated=false",
    "-c", "push.gpgSign=false",
    "-c", "advice.detachedHead=false",
)  # fmt: skip
# Inherited from a calling git (a hook, say) these would point git at the wrong repository.
_REPOSITORY_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)
_DEFAULT_HINT = (
    "Check that the hub remote exists and is reachable (a local hub must be a bare git "
    "repository) and that git-lfs is installed (`git lfs version`)"
)


class GitLfsHub:
    """A git remote holding one dataset; `workdir` is scratch space for clones."""

    def __init__(self, remote: str | Path, workdir: Path):
        self.remote = str(remote)
        self.workdir = Path(workdir)
        self.local_path = _local_path(remote)
        # git-lfs 3.3 handles a plain absolute path itself (as a file:// endpoint).
        self.url = str(self.local_path) if self.local_path is not None else self.remote

    # -- reading ---------------------------------------------------------------------

    def versions(self) -> list[Version]:
        """Published versions, oldest first; [] for an empty or missing local hub."""
        return sorted(self._remote_versions())

    def latest_manifest(self) -> Manifest | None:
        """The manifest of the newest version, or None before the first publish."""
        versions = self.versions()
        return self.manifest(versions[-1]) if versions else None

    def manifest(self, version: Version | str) -> Manifest:
        """`manifest.json` as published under `version` (fetches git objects, no LFS)."""
        version = as_version(version)
        available = self.versions()
        if version not in available:
            raise unknown_version(self.remote, version, available)
        cache = self._fetch_tags([version.tag])
        return self._read_manifest(cache, version.tag)

    def read_file(self, version: Version | str, path: str, dest: Path) -> Path | None:
        """Copy `path` as published under `version` to `dest`; None if that version has no
        such file. Fetches the tag's git objects (as `manifest` does) and, for an LFS file,
        that one LFS object (`git lfs fetch --include`), never the version's other files."""
        version = Version.parse(version) if isinstance(version, str) else version
        cache = self._fetch_tags([version.tag])
        if not self._git("ls-tree", f"refs/tags/{version.tag}", "--", path, repo=cache).strip():
            return None
        pointer = self._git("cat-file", "blob", f"refs/tags/{version.tag}:{path}", repo=cache)
        oid = re.search(r"^oid sha256:([0-9a-f]{64})$", pointer, re.MULTILINE)
        if not pointer.startswith(LFS_POINTER_PREFIX) or oid is None:
            raise HubError(
                f"{path} of {version.tag} on hub {self.remote} is not stored through git-LFS; "
                "only LFS files can be read this way"
            )
        self._require_git_lfs()
        self._git("config", "remote.hub.url", self.url, repo=cache)
        self._git(
            "lfs", "fetch", "hub", f"refs/tags/{version.tag}", f"--include={path}",
            repo=cache,
            hint=f"The LFS object of {path} could not be downloaded; check that the hub's "
            "LFS storage is reachable",
        )  # fmt: skip
        digest = oid.group(1)
        stored = cache / "lfs" / "objects" / digest[:2] / digest[2:4] / digest
        if not stored.is_file() or file_sha256(stored) != digest:
            raise HubError(
                f"the LFS object of {path} ({version.tag}) from hub {self.remote} is missing "
                f"or corrupt in {cache}; delete that folder and retry"
            )
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        shutil.copyfile(stored, partial)
        partial.replace(dest)
        return dest

    def list_versions(self) -> list[VersionInfo]:
        """Every version with its tag date and rows per config, oldest first."""
        versions = self.versions()
        if not versions:
            return []
        cache = self._fetch_tags([v.tag for v in versions])
        listing = self._git(
            "for-each-ref", "refs/tags", "--format=%(refname:strip=2)%09%(creatordate:iso-strict)",
            repo=cache,
        )  # fmt: skip
        dates = dict(line.split("\t", 1) for line in listing.splitlines() if "\t" in line)
        return [
            VersionInfo(
                version=version,
                tag=version.tag,
                date=dates.get(version.tag, ""),
                rows=self._read_manifest(cache, version.tag).rows(),
            )
            for version in versions
        ]

    def read_texts(self, version: Version | str, paths: Sequence[str]) -> dict[str, str]:
        """Plain (non-LFS) files of a version, path -> text; paths it lacks are left out."""
        version = Version.parse(version) if isinstance(version, str) else version
        cache = self._fetch_tags([version.tag])
        present = self._git(
            "ls-tree", "-z", "--name-only", f"refs/tags/{version.tag}", "--", *paths, repo=cache
        ).split("\0")
        return {
            path: self._git("cat-file", "blob", f"refs/tags/{version.tag}:{path}", repo=cache)
            for path in paths
            if path in present
        }

    # -- writing ---------------------------------------------------------------------

    def ensure_remote(self) -> None:
        """Create a local hub (a bare repository) if it does not exist yet."""
        if self.local_path is None:
            return  # a URL remote must be created where it is hosted
        path = self.local_path
        if path.exists() and any(path.iterdir()):
            if not (path / "HEAD").is_file() or not (path / "objects").is_dir():
                raise HubError(
                    f"local hub {path} exists but is not a bare git repository; move it "
                    "away or point publish.target at another path"
                )
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self._git("init", "--quiet", "--bare", f"--initial-branch={BRANCH}", str(path))

    def publish(self, tree: Path, version: Version, message: str) -> PublishedVersion:
        """Publish the dataset tree at `tree` as `version`: one commit, tag, atomic push."""
        tree = Path(tree)
        manifest = checked_manifest(tree, version)
        self._require_git_lfs()
        self.ensure_remote()
        refs = self._remote_refs()
        check_new_version(version, list(_versions_in(refs)), self.remote)

        self.workdir.mkdir(parents=True, exist_ok=True)
        self._remove_abandoned_scratch()
        with tempfile.TemporaryDirectory(prefix=f"publish-{version.tag}-", dir=self.workdir) as tmp:
            (Path(tmp) / SCRATCH_OWNER).write_text(str(os.getpid()), encoding="ascii")
            repo = Path(tmp) / "repo"
            self._git("init", "--quiet", f"--initial-branch={BRANCH}", str(repo))

            def git(*args: str) -> str:
                return self._git(*args, repo=repo)

            # Hooks inside this repository, even when the user's git sets core.hooksPath:
            # the LFS pre-push hook is what uploads the Parquet before refs move.
            git("config", "core.hooksPath", str(repo / ".git" / "hooks"))
            git("lfs", "install", "--local")
            git("remote", "add", "origin", self.url)
            if f"refs/heads/{BRANCH}" in refs:
                # History only, no checkout: previous Parquet is never downloaded. The empty
                # index makes the commit hold exactly the tree's files.
                git("fetch", "--quiet", "--no-tags", "origin",
                    f"+refs/heads/{BRANCH}:refs/remotes/origin/{BRANCH}")  # fmt: skip
                git("update-ref", f"refs/heads/{BRANCH}", f"refs/remotes/origin/{BRANCH}")

            shutil.copytree(tree, repo, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".git"))
            write_manifest(repo, manifest)
            (repo / ".gitattributes").write_text(LFS_ATTRIBUTES, encoding="utf-8")
            git("add", "--all")
            git("commit", "--quiet", "--allow-empty", "-m", message)
            self._check_lfs_pointers(repo, git)
            git("tag", "-a", version.tag, "-m", message)
            self._git(
                "push", "--quiet", "--atomic", "origin",
                f"HEAD:refs/heads/{BRANCH}", f"refs/tags/{version.tag}",
                repo=repo,
                hint="Nothing was published; if the tag or branch moved meanwhile, list the "
                "versions again and publish the next one",
            )  # fmt: skip
            commit = git("rev-parse", "HEAD").strip()
        return PublishedVersion(remote=self.remote, tag=version.tag, commit=commit)

    # -- internals -------------------------------------------------------------------

    def _remove_abandoned_scratch(self) -> None:
        """Delete scratch clones of publishes whose process is gone (killed mid-push)."""
        for folder in self.workdir.glob("publish-*"):
            try:
                owner = int((folder / SCRATCH_OWNER).read_text(encoding="ascii"))
            except (OSError, ValueError):
                continue  # just being made by a running publish, or not ours
            if not _process_alive(owner):
                shutil.rmtree(folder, ignore_errors=True)

    def _check_lfs_pointers(self, repo: Path, git: Callable[..., str]) -> None:
        """Every committed Parquet file must be an LFS pointer, not a plain blob."""
        parquet = [p for p in git("ls-files", "-z").split("\0") if p.endswith(".parquet")]
        in_lfs = set(git("lfs", "ls-files", "--name-only").splitlines())
        plain = [p for p in parquet if p not in in_lfs]
        if plain:
            raise HubError(
                f"{plain[0]} was committed as a plain git blob, not through git-LFS, in "
                f"{repo}; nothing was pushed to {self.remote}. Check `git lfs env` and "
                "that no git config overrides filter.lfs"
            )

    def _remote_refs(self) -> dict[str, str]:
        """Ref name -> object id on the remote; {} for a missing local hub."""
        if self.local_path is not None and not self.local_path.exists():
            return {}
        output = self._git("ls-remote", self.url)
        refs: dict[str, str] = {}
        for line in output.splitlines():
            oid, _, name = line.partition("\t")
            if name and not name.endswith("^{}"):
                refs[name] = oid
        return refs

    def _remote_versions(self) -> set[Version]:
        return _versions_in(self._remote_refs())

    def _fetch_tags(self, tags: Sequence[str]) -> Path:
        """Fetch `tags` (git objects only, no LFS) into a cache repository; return it."""
        key = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        cache = self.workdir / "tag-cache" / f"{key}.git"
        if not (cache / "HEAD").is_file():
            cache.parent.mkdir(parents=True, exist_ok=True)
            self._git("init", "--quiet", "--bare", str(cache))
        refspecs = [f"+refs/tags/{tag}:refs/tags/{tag}" for tag in tags]
        try:
            self._git("fetch", "--quiet", "--no-tags", self.url, *refspecs, repo=cache)
        except HubError:
            # The cache is disposable: a fetch killed part way leaves ref locks behind that
            # fail every later fetch. Start it afresh once; a second failure is real.
            shutil.rmtree(cache, ignore_errors=True)
            self._git("init", "--quiet", "--bare", str(cache))
            self._git("fetch", "--quiet", "--no-tags", self.url, *refspecs, repo=cache)
        return cache

    def _read_manifest(self, cache: Path, tag: str) -> Manifest:
        text = self._git(
            "cat-file", "blob", f"refs/tags/{tag}:{MANIFEST_FILENAME}",
            repo=cache,
            hint=f"Version {tag} has no {MANIFEST_FILENAME}; it was not published by rolemill",
        )  # fmt: skip
        return parse_manifest(text, tag, self.remote)

    def _require_git_lfs(self) -> None:
        self._git(
            "lfs", "version",
            hint="git-lfs is needed to publish Parquet; install it (Debian: apt-get install "
            "git-lfs) and retry",
        )  # fmt: skip

    def _git(self, *args: str, repo: Path | None = None, hint: str = _DEFAULT_HINT) -> str:
        """Run git (in `repo` if given); a failure is a HubError naming command and remote."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_ENV}
        env.update(
            GIT_TERMINAL_PROMPT="0",
            GIT_CEILING_DIRECTORIES=str(self.workdir.resolve()),  # never find an outer repo
            TZ="UTC",
        )
        try:
            result = subprocess.run(
                ["git", *_GIT_OPTIONS, *(("-C", str(repo)) if repo else ()), *args],
                cwd=self.workdir,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
        except FileNotFoundError as error:
            raise HubError("git is not installed; install git (and git-lfs) and retry") from error
        if result.returncode != 0:
            raise HubError(
                f"`git {' '.join(args)}` failed for hub {self.remote} (exit "
                f"{result.returncode}): {_tail(result.stderr).rstrip('.')}. {hint}"
            )
        return result.stdout


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _versions_in(refs: dict[str, str]) -> set[Version]:
    versions: set[Version] = set()
    for name in refs:
        if name.startswith("refs/tags/"):
            try:
                versions.add(Version.parse(name.removeprefix("refs/tags/")))
            except ValueError:
                continue  # not one of ours
    return versions


def _local_path(remote: str | Path) -> Path | None:
    """The filesystem path of a local remote, None for a network URL."""
    if isinstance(remote, Path):
        return remote.expanduser().resolve()
    if remote.startswith("file://"):
        return Path(unquote(urlparse(remote).path)).resolve()
    if "://" in remote or re.match(r"^[^/]+:", remote):  # https://..., user@host:repo
        return None
    return Path(remote).expanduser().resolve()


def _tail(stderr: str, lines: int = 6, limit: int = 800) -> str:
    kept = [line.strip() for line in stderr.strip().splitlines() if line.strip()][-lines:]
    text = " | ".join(kept) or "(no message from git)"
    return text if len(text) <= limit else "..." + text[-limit:]
