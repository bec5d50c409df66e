"""Where rolemill keeps run workspaces and the local hub.

Everything lives under one data folder: `./data` of the current directory unless
ROLEMILL_DATA_DIR says otherwise (tests point it at a temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    return Path(os.environ.get("ROLEMILL_DATA_DIR", "data")).resolve()


def runs_dir() -> Path:
    """Run workspaces: shard files, reports, the staged dataset of each run."""
    return data_dir() / "runs"


def hub_dir() -> Path:
    """The embedded local hub: one bare git-LFS repository per dataset."""
    return data_dir() / "hub"


def local_hub_remote(name: str) -> Path:
    return hub_dir() / f"{name}.git"
