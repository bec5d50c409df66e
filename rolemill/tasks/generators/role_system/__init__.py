"""The role-play system prompt every generator puts in front of a role's conversations.

`role_system_prompt(role)` is the short form that goes into published samples (name,
work, description). With `few_shot=True` it also carries the role's speaking style,
catchphrases and example lines: RoleGPT's few-shot prompting, used when asking the
model to answer in character.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rolemill.tasks.generators.prompt_template import PromptTemplate

if TYPE_CHECKING:
    from rolemill.tasks.generators.base import Role

ROLE_SYSTEM = PromptTemplate.beside(__file__)


def role_system_prompt(role: Role, few_shot: bool = False) -> str:
    profile = role.profile
    return ROLE_SYSTEM.render(
        "system.j2",
        name=role.character.name,
        work=role.character.work,
        language=role.character.language,
        description=profile.description,
        speaking_style=profile.speaking_style if few_shot else "",
        catchphrases=profile.catchphrases if few_shot else [],
        example_lines=profile.example_lines if few_shot else [],
    )
