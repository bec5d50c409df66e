"""The runner setting and the names of the cross-process limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from rolemill.flows.runner import dask_overrides
from rolemill.schemas.input_error import InputError
from rolemill.schemas.llm import LLMConfig
from rolemill.schemas.recipe import load_recipe
from rolemill.tasks.llm.global_limits import limit_names

DEMO = Path(__file__).parents[2] / "recipes" / "demo.yaml"


def test_dask_option_sets_the_recipe_runner_and_leaves_the_content_hash() -> None:
    plain = load_recipe(DEMO, []).recipe
    assert plain.runner.kind == "threads"
    local = load_recipe(DEMO, dask_overrides("local")).recipe
    assert (local.runner.kind, local.runner.address) == ("dask", None)
    remote = load_recipe(DEMO, dask_overrides("tcp://10.0.0.5:8786")).recipe
    assert remote.runner.address == "tcp://10.0.0.5:8786"
    assert remote.content_hash() == plain.content_hash()  # where shards run is not content
    assert dask_overrides("") == []


def test_an_unknown_runner_kind_is_refused_naming_the_field() -> None:
    with pytest.raises(InputError, match=r"runner\.kind"):
        load_recipe(DEMO, ["runner.kind=ray"])


def test_limit_names_are_valid_prefect_names_and_only_for_set_limits() -> None:
    config = LLMConfig(
        provider="openai", model="meta-llama/Llama-3.1-8B", limits={"concurrency": 4, "rpm": 60}
    )
    names = limit_names(config)
    assert names.concurrency == "llm-openai-meta-llama-Llama-3.1-8B"
    assert names.rpm == "llm-openai-meta-llama-Llama-3.1-8B-rpm"
    assert names.ktpm is None
