"""Persona profiles on the scripted server: one structured request per synthetic role, from
its drawn attributes; the shard writes ordinary profile rows every generator can read."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from rolemill.flows.stages import persona_profiles_shard, samples_shard
from rolemill.schemas.persona import PersonaAttributes, PersonaLine
from rolemill.schemas.profile import CharacterProfile, SourceProfile
from rolemill.schemas.recipe import PersonasConfig, Recipe
from rolemill.schemas.seeds import SeedSet
from rolemill.schemas.source_files import load_yaml_model
from rolemill.tasks.generators.profiles.persona import PersonaProfileGenerator
from rolemill.tasks.llm.structured_output import strict_json_schema
from rolemill.tasks.persona_pool import SHIPPED_ATTRIBUTES, PersonaPool
from rolemill.testing.scripted_server import ScriptedLLMServer

ATTRIBUTES = load_yaml_model(SHIPPED_ATTRIBUTES, PersonaAttributes)


def recipe(server: ScriptedLLMServer, tmp_path: Path, **personas: Any) -> Recipe:
    return Recipe.model_validate(
        {
            "name": "tiny",
            "seeds": {"personas": {"count": 4, **personas}},
            "generators": {"context_instruct": {"segments": ["knowledge", "scene"]}},
            "llm": {
                "provider": "openai",
                "model": "scripted-model",
                "base_url": server.base_url,
                "cache_dir": str(tmp_path / "cache"),
                "retry": {"max_attempts": 2, "base_delay_s": 0.05, "max_parse_attempts": 2},
            },
        }
    )


def test_a_persona_profile_is_made_from_its_draw(
    scripted: ScriptedLLMServer, make_gateway: Callable[..., Any]
) -> None:
    draw = PersonaPool(PersonasConfig(count=10), ATTRIBUTES).draw(7)

    async def run() -> Any:
        async with make_gateway(scripted) as gateway:
            return await PersonaProfileGenerator(gateway, 1000).generate(draw)

    outcome = asyncio.run(run())
    assert outcome.error is None and outcome.profile is not None
    assert 1 <= len(outcome.profile.abilities) <= 3 and outcome.profile.does_not_know
    assert outcome.character.id == "persona-000007" and outcome.character.name == draw.name
    assert outcome.character.source.description == draw.describe()
    (request,) = scripted.requests
    assert request.structured
    for value in (draw.name, draw.career, draw.aspiration, draw.skill, draw.mbti, *draw.traits):
        assert value in request.prompt

    again = asyncio.run(run())  # the same draw makes the same request: the cache answers
    assert len(scripted.requests) == 1 and again.profile == outcome.profile


def test_a_persona_shard_feeds_the_generators_and_reports_failures(
    scripted: ScriptedLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-scripted-test-key-0001")
    lines = (
        PersonaLine(id="ok", text="A ferry captain who hums sea shanties to calm passengers."),
        PersonaLine(id="bad", text="A baker who never answers. [[faults: malformed,malformed]]"),
    )
    settings = recipe(scripted, tmp_path, lines="l.jsonl", line_share=1.0)
    pool = PersonaPool(settings.seeds.personas, ATTRIBUTES, lines)
    broken = {d.role_id for d in pool.draws(range(4)) if d.line_id == "bad"}
    assert 0 < len(broken) < 4

    report = persona_profiles_shard.fn(3, range(0, 4), pool, settings, tmp_path / "p.parquet")
    assert report.rows == 4 - len(broken)
    assert sorted(f.split(":")[0] for f in report.failures) == [
        f"profile of {role_id}" for role_id in sorted(broken)
    ]
    rows = pq.read_table(report.path).to_pylist()
    assert all(row["abilities"] and row["source_description"].startswith("Persona: A ferry")
               for row in rows)  # fmt: skip

    samples = samples_shard.fn(
        3, "context_instruct", None, report, settings, SeedSet(characters=[]), tmp_path / "c.pq"
    )
    assert samples.failures == [] and samples.rows + samples.below_threshold == 2 * 2 * len(rows)
    made = pq.read_table(samples.path).to_pylist()
    assert {row["role_id"] for row in made} <= {row["role_id"] for row in rows}


def test_the_source_text_profile_request_kept_its_schema() -> None:
    """Adding `abilities` to CharacterProfile left the source-text request as it was, so
    responses cached before it still answer (a changed schema is a changed cache key)."""
    schema = json.dumps(strict_json_schema(SourceProfile), sort_keys=True)
    assert hashlib.sha256(schema.encode()).hexdigest().startswith("8b2d2f54bdf59f25")
    assert "abilities" in CharacterProfile.model_fields
