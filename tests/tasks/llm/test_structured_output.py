from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from rolemill.tasks.llm.structured_output import (
    StructuredOutputError,
    parse_structured,
    strict_json_schema,
)


class Line(BaseModel):
    speaker: str
    text: str


class Profile(BaseModel):
    title: str = Field(description="a property named like a schema keyword")
    catchphrases: list[str]
    lines: list[Line]
    confidence: float = Field(ge=0, le=1)


def test_strict_schema_bounds_strings_and_forbids_extras() -> None:
    schema = strict_json_schema(Profile, max_string=300)
    assert "$defs" not in schema and "$ref" not in str(schema)
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["title", "catchphrases", "lines", "confidence"]
    assert schema["properties"]["title"]["maxLength"] == 300
    assert schema["properties"]["catchphrases"]["items"]["maxLength"] == 300
    line = schema["properties"]["lines"]["items"]
    assert line["additionalProperties"] is False
    assert line["properties"]["text"]["maxLength"] == 300


GOOD = '{"title": "Dr", "catchphrases": ["Elementary"], "lines": [{"speaker": "H", "text": "Hi"}], "confidence": 0.5}'


@pytest.mark.parametrize(
    "text",
    [
        GOOD,
        f"```json\n{GOOD}\n```",
        f"Sure! Here it is: {GOOD} Hope that helps.",
        GOOD.replace('"Hi"', '"Hi\nthere\tfriend"'),  # raw control characters inside a string
        GOOD + ' and then {"trailing": "object"}',
    ],
)
def test_lenient_parse_accepts_what_models_write(text: str) -> None:
    profile = parse_structured(text, Profile)
    assert profile.catchphrases == ["Elementary"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty reply"),
        ("I cannot answer that.", "no JSON object"),
        ('{"title": "Dr", "catchphrases": ["Elem', "invalid JSON"),
        ('{"title": "Dr", "catchphrases": [], "lines": [], "confidence": 3}', "confidence"),
        ('{"title": "Dr"}', "catchphrases: Field required"),
    ],
)
def test_unusable_replies_say_why(text: str, reason: str) -> None:
    with pytest.raises(StructuredOutputError, match=reason):
        parse_structured(text, Profile)
