"""Prompt templates kept as files beside the generator that uses them.

A template folder holds `system.j2` and `user.j2` (Jinja2, undefined names are
errors). Its hash covers the files' content, so a changed prompt is a new prompt:
its requests miss the cache and its samples say which prompt made them.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2

LANGUAGE_NAMES = {"en": "English", "zh": "Chinese (简体中文)"}


class PromptTemplate:
    def __init__(self, folder: Path):
        self.folder = folder
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folder),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,
        )

    @classmethod
    def beside(cls, module_file: str, name: str = "") -> PromptTemplate:
        """The templates in the module's own folder (or its subfolder `name`)."""
        return cls(Path(module_file).parent / name)

    @cached_property
    def hash(self) -> str:
        digest = hashlib.sha256()
        for path in sorted(self.folder.glob("*.j2")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()[:16]

    def render(self, template: str, **values: Any) -> str:
        values.setdefault("language_name", LANGUAGE_NAMES.get(values.get("language", "en")))
        return self._env.get_template(template).render(**values).strip()

    def messages(self, **values: Any) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": self.render("system.j2", **values)},
            {"role": "user", "content": self.render("user.j2", **values)},
        ]


def stable_seed(*parts: object) -> int:
    """A sampling seed from names, the same on every run and machine."""
    text = "\x1f".join(str(part) for part in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF
