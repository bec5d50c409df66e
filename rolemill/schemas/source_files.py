"""Read YAML, JSON and JSONL files into pydantic models, with errors that point at lines.

A YAML file is composed into nodes first, so a validation error on `llm.limits.rpm`
can say which line of the file holds it; JSONL errors carry their line number.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from rolemill.schemas.input_error import InputError

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # a BOM, if any, is not content
    except FileNotFoundError:
        raise InputError(path, "file not found", hint="check the path") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None


def load_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """The file's data and its node tree (for line numbers)."""
    text = read_text(path)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(
            path,
            f"malformed YAML: {problem}",
            line=mark.line + 1 if mark else None,
            hint="fix the YAML syntax",
        ) from None
    return data, node


def line_of(node: yaml.Node | None, loc: Loc) -> int | None:
    """The 1-based line of the deepest node on `loc` that exists in the file."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if key.value == part:
                    child, line = value, key.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def dotted(loc: Loc) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def input_error_from_validation(
    path: Path, exc: ValidationError, node: yaml.Node | None = None, line: int | None = None
) -> InputError:
    """The first validation problem as an InputError at its field (and line, if known)."""
    first = exc.errors()[0]
    loc = tuple(first["loc"])
    problem = first["msg"]
    if first["type"] == "extra_forbidden":
        problem = "unknown key"
        hint = "remove it or check its spelling against docs/recipes.md"
    elif first["type"] == "missing":
        hint = "add it"
    else:
        hint = f"got {first['input']!r}" if _short(first.get("input")) else None
    more = len(exc.errors()) - 1
    if more:
        problem += f" (and {more} more problem{'s' if more > 1 else ''})"
    return InputError(
        path,
        problem,
        line=line if line is not None else line_of(node, loc),
        field=dotted(loc),
        hint=hint,
    )


def _short(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and len(repr(value)) <= 60


def validate_yaml(path: Path, model: type[M], data: Any, node: yaml.Node | None) -> M:
    if not isinstance(data, dict):
        raise InputError(path, "expected a mapping of keys to values at the top level", line=1)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise input_error_from_validation(path, exc, node) from None


def load_yaml_model(path: Path, model: type[M]) -> M:
    data, node = load_yaml(path)
    return validate_yaml(path, model, data, node)


def iter_jsonl(path: Path, model: type[M]) -> Iterator[M]:
    """Validated rows of a JSONL file; blank lines are skipped."""
    # Split on "\n" only: str.splitlines() would also split on U+2028 and kin, which are
    # legal inside JSON strings.
    for number, raw in enumerate(read_text(path).split("\n"), start=1):
        raw = raw.removesuffix("\r")
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(
                path, f"malformed JSON: {exc.msg} at column {exc.colno}", line=number
            ) from None
        if not isinstance(data, dict):
            raise InputError(path, "expected a JSON object on this line", line=number)
        try:
            yield model.model_validate(data)
        except ValidationError as exc:
            raise input_error_from_validation(path, exc, line=number) from None
