from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from rolemill.schemas.llm import LLMConfig

ROOT = Path(__file__).resolve().parents[2]


def test_demo_recipe_llm_section_is_valid() -> None:
    config = LLMConfig.model_validate(
        yaml.safe_load((ROOT / "recipes" / "demo.yaml").read_text())["llm"]
    )
    assert config.provider == "local"
    assert config.model == "SmolLM2-135M-Instruct"
    assert config.api_key_env is None


def test_defaults_per_provider() -> None:
    assert LLMConfig(provider="openai").api_key_env == "OPENAI_API_KEY"
    assert LLMConfig(provider="anthropic").api_key_env == "ANTHROPIC_API_KEY"


def test_unknown_keys_and_bad_types_name_the_field() -> None:
    with pytest.raises(ValidationError, match="concurency"):
        LLMConfig.model_validate({"limits": {"concurency": 4}})
    with pytest.raises(ValidationError, match=r"limits\.rpm"):
        LLMConfig.model_validate({"limits": {"rpm": "lots"}})
    with pytest.raises(ValidationError, match="provider"):
        LLMConfig.model_validate({"provider": "openia"})
