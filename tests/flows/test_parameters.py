"""The build flow's form fields become recipe overrides, checked like the recipe file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from rolemill.flows.parameters import Counts, LLMChoice, build_overrides
from rolemill.schemas.recipe import load_recipe

DEMO = Path(__file__).parents[2] / "recipes" / "demo.yaml"


def test_set_fields_override_the_recipe_and_free_overrides_come_last() -> None:
    overrides = build_overrides(
        LLMChoice(provider="openai", model="1.5", base_url="http://127.0.0.1:9/v1"),
        Counts(personas=3, mrc_samples_per_role=2),
        ["llm.model=gpt-4o-mini"],
    )
    assert overrides == [
        'llm.provider="openai"',
        'llm.model="1.5"',
        'llm.base_url="http://127.0.0.1:9/v1"',
        "seeds.personas.count=3",
        "generators.mrc.samples_per_role=2",
        "llm.model=gpt-4o-mini",
    ]
    recipe = load_recipe(DEMO, overrides[:-1]).recipe
    assert (recipe.llm.provider, recipe.llm.model) == ("openai", "1.5")  # a string, not 1.5
    assert recipe.llm.base_url == "http://127.0.0.1:9/v1"
    assert recipe.seeds.personas.count == 3
    assert recipe.generators.mrc.samples_per_role == 2
    assert load_recipe(DEMO, overrides).recipe.llm.model == "gpt-4o-mini"


def test_empty_fields_keep_the_recipe() -> None:
    assert build_overrides(LLMChoice(), Counts(), None) == []
    assert load_recipe(DEMO, []).recipe == load_recipe(DEMO, build_overrides(None, None, [])).recipe


def test_bad_form_values_are_refused_with_the_field_named() -> None:
    with pytest.raises(ValidationError, match="provider"):
        LLMChoice(provider="openia")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="personas"):
        Counts(personas=-1)
    with pytest.raises(ValidationError, match="questions_per_segment"):
        Counts(questions_per_segment=11)  # the recipe's own bound
