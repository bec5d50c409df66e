"""Which hub a recipe's `publish.target` names.

    hf://datasets/<org>/<name>     HfHub: a dataset repository on the Hugging Face Hub
    git+file:///abs/path/x.git     GitLfsHub on that git remote (also git+https://,
    git+https://host/x.git           git+ssh://); the `git+` prefix is dropped
    git+ssh://git@host/x.git
    <name>                         the local hub, data/hub/<name>.git
    /path/x.git, ./x.git           GitLfsHub on a bare repository path
    https://..., ssh://..., file://..., user@host:repo   GitLfsHub on that git URL

`parse_target` only reads the text (the recipe checks its target with it when it is
loaded); `hub_for` makes the hub.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from rolemill.paths import hub_dir, local_hub_remote
from rolemill.tasks.publish.git_lfs_hub import GitLfsHub
from rolemill.tasks.publish.hub import Hub, HubError

HF_PREFIX = "hf://datasets/"
GIT_PLUS_SCHEMES = ("git+file", "git+https", "git+ssh")
PLAIN_GIT_SCHEMES = ("file", "https", "http", "ssh", "git")
ACCEPTED_FORMS = (
    "hf://datasets/<org>/<name>, git+file:///path/to/repo.git, git+https://host/repo.git, "
    "git+ssh://git@host/repo.git, a dataset name (local hub data/hub/<name>.git), a bare "
    "repository path, or a plain git URL"
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


class TargetError(HubError, ValueError):
    """`publish.target` names nothing rolemill can publish to."""


@dataclass(frozen=True)
class Target:
    kind: Literal["hf", "git"]
    location: str | Path  # hf: the repo id <org>/<name>; git: the remote, path or URL


def parse_target(target: str) -> Target:
    """What `target` names; TargetError (naming publish.target) for anything else."""
    target = target.strip()
    scheme_match = _SCHEME.match(target)
    scheme = scheme_match.group(1).lower() if scheme_match else None
    if scheme == "hf":
        return Target("hf", _hf_repo_id(target))
    if scheme in GIT_PLUS_SCHEMES:
        remote = target[len("git+") :]
        if not remote.partition("://")[2].strip("/"):
            raise _bad_target(target, "it names no repository")
        if scheme == "git+file" and urlparse(remote).netloc not in ("", "localhost"):
            raise _bad_target(target, "git+file:// takes an absolute path (three slashes)")
        return Target("git", remote)
    if scheme is not None and scheme not in PLAIN_GIT_SCHEMES:
        raise _bad_target(target, f"rolemill cannot publish to a {scheme}:// address")
    if not target:
        raise _bad_target(target, "it is empty")
    is_name = "/" not in target and ":" not in target and not target.endswith(".git")
    return Target("git", local_hub_remote(target) if is_name else target)


def hub_for(
    target: str,
    workdir: Path | None = None,
    *,
    private: bool = False,
    token_secret: str | None = None,
) -> Hub:
    """The hub behind `target`; `workdir` is its scratch space. `private` and
    `token_secret` matter to the Hugging Face Hub only."""
    parsed = parse_target(target)
    workdir = workdir or hub_dir() / ".scratch"
    if parsed.kind == "hf":
        from rolemill.tasks.publish.hf_hub import HfHub

        return HfHub(str(parsed.location), workdir, private=private, token_secret=token_secret)
    return GitLfsHub(parsed.location, workdir)


def _hf_repo_id(target: str) -> str:
    """`hf://datasets/<org>/<name>` -> `<org>/<name>`."""
    parts = target.removeprefix(HF_PREFIX).strip("/").split("/")
    if (
        not target.startswith(HF_PREFIX)
        or len(parts) != 2
        or not all(part and part not in (".", "..") for part in parts)
    ):
        raise TargetError(
            f"publish.target {target!r} is not a Hugging Face dataset: write "
            "hf://datasets/<org>/<name> (models and spaces cannot hold a dataset)"
        )
    return "/".join(parts)


def _bad_target(target: str, problem: str) -> TargetError:
    return TargetError(f"publish.target {target!r}: {problem}; use one of: {ACCEPTED_FORMS}")
