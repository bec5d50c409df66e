"""Which hub a recipe's `publish.target` names.

hf://datasets/<org>/<name>     HfHub: a dataset repository on the Hugging Face Hub
git+file:///abs/path/x.git     GitLfsHub on that git remote (also git+https://,
git+https://host/x.git           git+ssh://); the `git+` prefix is dropped
git+ssh://git@host/x.git
<name>                         the local hub, data/hub/<name>.git
/path/x.git, ./x.git           GitLfsHub on a bare repository path
https://..., ssh://..., file://..., user@host:repo   GitLfsHub on that git URL
"""

from __future__ import annotations

import re
from pathlib import Path

from rolemill.paths import hub_dir, local_hub_remote
from rolemill.tasks.publish.git_lfs_hub import GitLfsHub
from rolemill.tasks.publish.hub import Hub, HubError

HF_SCHEME = "hf"
GIT_PLUS_SCHEMES = ("git+file", "git+https", "git+ssh")
PLAIN_GIT_SCHEMES = ("file", "https", "http", "ssh", "git")
ACCEPTED_FORMS = (
    "hf://datasets/<org>/<name>, git+file:///path/to/repo.git, git+https://host/repo.git, "
    "git+ssh://git@host/repo.git, a dataset name (local hub data/hub/<name>.git), a bare "
    "repository path, or a plain git URL"
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def hub_for(
    target: str,
    workdir: Path | None = None,
    *,
    private: bool = False,
    token_secret: str | None = None,
) -> Hub:
    """The hub behind `target` (see the module doc); `workdir` is its scratch space.
    `private` and `token_secret` matter to the Hugging Face Hub only."""
    workdir = workdir or hub_dir() / ".scratch"
    target = target.strip()
    scheme_match = _SCHEME.match(target)
    scheme = scheme_match.group(1).lower() if scheme_match else None
    if scheme == HF_SCHEME:
        from rolemill.tasks.publish.hf_hub import HfHub, parse_repo_id

        return HfHub(parse_repo_id(target), workdir, private=private, token_secret=token_secret)
    if scheme in GIT_PLUS_SCHEMES:
        remote = target[len("git+") :]
        if not remote.partition("://")[2].strip("/"):
            raise _bad_target(target, "it names no repository")
        return GitLfsHub(remote, workdir)
    if scheme is not None and scheme not in PLAIN_GIT_SCHEMES:
        raise _bad_target(target, f"rolemill cannot publish to a {scheme}:// address")
    if not target:
        raise _bad_target(target, "it is empty")
    is_name = "/" not in target and ":" not in target and not target.endswith(".git")
    return GitLfsHub(local_hub_remote(target) if is_name else target, workdir)


def _bad_target(target: str, problem: str) -> HubError:
    return HubError(f"publish.target {target!r}: {problem}; use one of: {ACCEPTED_FORMS}")
