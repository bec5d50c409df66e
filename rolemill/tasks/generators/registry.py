"""The sample generators a recipe can switch on, by config name."""

from __future__ import annotations

from typing import Any

from rolemill.schemas.recipe import Recipe
from rolemill.tasks.generators.base import SampleGenerator
from rolemill.tasks.generators.context_instruct.generator import ContextInstructGenerator
from rolemill.tasks.generators.reading_comprehension.generator import (
    ReadingComprehensionGenerator,
)
from rolemill.tasks.generators.self_alignment.generator import SelfAlignmentGenerator
from rolemill.tasks.generators.style_transfer.generator import StyleTransferGenerator

GENERATORS: dict[str, type[SampleGenerator]] = {
    generator.config: generator
    for generator in (
        ContextInstructGenerator,
        StyleTransferGenerator,
        SelfAlignmentGenerator,
        ReadingComprehensionGenerator,
    )
}


def enabled_generators(recipe: Recipe) -> list[tuple[str, Any]]:
    """(config name, settings) of every generator the recipe switches on, in a fixed order."""
    enabled = []
    for name in GENERATORS:
        settings = getattr(recipe.generators, name)
        if settings.enabled:
            enabled.append((name, settings))
    return enabled
