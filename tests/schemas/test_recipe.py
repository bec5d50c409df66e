"""Recipes: the shipped ones load; every bad one is an InputError at its file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from rolemill.schemas.input_error import InputError
from rolemill.schemas.recipe import load_recipe

RECIPES = Path(__file__).parents[2] / "recipes"

MINIMAL = """\
name: tiny
seeds:
  characters: [chars/*.yaml]
llm:
  provider: openai
  limits:
    concurrency: 4
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["demo.yaml", "rolebench-en.yaml"])
def test_shipped_recipes_load(name: str) -> None:
    loaded = load_recipe(RECIPES / name)
    assert loaded.recipe.name == name.removesuffix(".yaml")
    assert loaded.recipe.seeds.characters


def test_demo_runs_on_the_embedded_model_and_rolebench_on_openai() -> None:
    assert load_recipe(RECIPES / "demo.yaml").recipe.llm.provider == "local"
    rolebench = load_recipe(RECIPES / "rolebench-en.yaml").recipe
    assert (rolebench.llm.provider, rolebench.llm.model) == ("openai", "gpt-4o-mini")


def test_unknown_key_is_named_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("    concurrency: 4", "    concurrency: 4\n    rmp: 10"))
    with pytest.raises(InputError) as caught:
        load_recipe(path)
    error = caught.value
    assert (error.line, error.field) == (8, "llm.limits.rmp")
    assert "unknown key" in str(error) and str(path) in str(error)


def test_wrong_type_is_named_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("concurrency: 4", "concurrency: many"))
    with pytest.raises(InputError) as caught:
        load_recipe(path)
    assert (caught.value.line, caught.value.field) == (7, "llm.limits.concurrency")
    assert "'many'" in str(caught.value)


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, MINIMAL.replace("  characters: [chars/*.yaml]", "  characters: [chars/*.yaml")
    )
    with pytest.raises(InputError) as caught:
        load_recipe(path)
    assert "malformed YAML" in str(caught.value)
    assert caught.value.line is not None and caught.value.line >= 3


def test_missing_section_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "name: tiny\n")
    with pytest.raises(InputError) as caught:
        load_recipe(path)
    assert caught.value.field == "seeds"


def test_overrides_apply_and_are_validated(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    loaded = load_recipe(path, ["llm.model=gpt-4o", "llm.limits.rpm=600", "shard_size=2"])
    recipe = loaded.recipe
    assert (recipe.llm.model, recipe.llm.limits.rpm, recipe.shard_size) == ("gpt-4o", 600, 2)
    with pytest.raises(InputError) as caught:
        load_recipe(path, ["llm.limits.rpm=lots"])
    assert caught.value.path == "--set" and caught.value.field == "llm.limits.rpm"
    with pytest.raises(InputError, match="not key=value"):
        load_recipe(path, ["llm.model"])


def test_content_hash_ignores_the_publish_target(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    plain = load_recipe(path).recipe.content_hash()
    assert load_recipe(path, ["publish.target=/elsewhere.git"]).recipe.content_hash() == plain
    hf = ["publish.target=hf://datasets/org/x", "publish.private=true", "publish.token_secret=t"]
    published = load_recipe(path, hf).recipe
    assert published.publish.private and published.publish.token_secret == "t"
    assert published.publish.target == "hf://datasets/org/x"
    assert published.content_hash() == plain
    assert load_recipe(path, ["dedup.index=/shared/index.parquet"]).recipe.content_hash() == plain
    assert load_recipe(path, ["llm.model=other"]).recipe.content_hash() != plain


def test_an_unknown_publish_target_is_refused_when_the_recipe_loads(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    with pytest.raises(InputError, match=r"s3://bucket/x.*hf://datasets/<org>/<name>") as caught:
        load_recipe(path, ["publish.target=s3://bucket/x"])
    assert caught.value.field == "publish.target"


def test_publish_version_is_semver_and_outside_the_content_hash(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    plain = load_recipe(path).recipe
    assert plain.publish.version is None
    chosen = load_recipe(path, ["publish.version=v1.2.3"]).recipe
    assert chosen.publish.version == "1.2.3"
    assert chosen.content_hash() == plain.content_hash()
    with pytest.raises(
        InputError, match=r"not a dataset version: '1\.2'.*MAJOR\.MINOR\.PATCH"
    ) as caught:
        load_recipe(path, ["publish.version=1.2"])
    assert caught.value.field == "publish.version"


def test_relative_paths_resolve_against_the_recipe_folder(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "publish:\n  target: hub/tiny.git\n")
    loaded = load_recipe(path, ["llm.cache_dir=cache", "dedup.index=../shared/index.parquet"])
    assert loaded.recipe.publish.target == str(tmp_path / "hub" / "tiny.git")
    assert loaded.recipe.llm.cache_dir == tmp_path / "cache"
    assert loaded.recipe.dedup.index == tmp_path.parent / "shared" / "index.parquet"
    url = load_recipe(path, ["publish.target=git+ssh://example.invalid/x.git"]).recipe
    assert url.publish.target == "git+ssh://example.invalid/x.git"


def test_set_errors_on_new_nested_keys_blame_the_override(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    with pytest.raises(InputError) as caught:
        load_recipe(path, ["llm.foo.bar=1"])
    assert caught.value.path == "--set" and caught.value.field == "llm.foo"


def test_repeated_segments_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    with pytest.raises(InputError, match="at most once"):
        load_recipe(path, ["generators.context_instruct.segments=[scene, scene]"])


def test_dedup_text_by_config_names_only_deduplicated_configs(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "dedup:\n  text_by_config:\n    mcr: final\n")
    with pytest.raises(InputError, match=r"'mcr'.*context_instruct, style_transfer") as caught:
        load_recipe(path)
    assert caught.value.field == "dedup.text_by_config" and caught.value.line == 9
    assert load_recipe(path, ["dedup.text_by_config={mrc: final}"]).recipe.dedup.text_by_config


def test_the_deduplicated_configs_are_the_sample_generators() -> None:
    from rolemill.schemas.quality import DEDUPLICATED_CONFIGS
    from rolemill.schemas.recipe import GeneratorsConfig

    assert set(DEDUPLICATED_CONFIGS) == set(GeneratorsConfig.model_fields) - {"profiles"}
