"""Which passages fit a role's world: RoleMRC's role_related / role_unrelated.

RoleMRC asks whether a passage lies within the character's knowledge range. Here that
is decided lexically, a practical stand-in: passages in the role's language are scored
by the content words (Chinese: character bigrams) they share with the role's world,
each shared term weighted by its rarity among the passages (idf) and doubled when it
comes from what the role `knows` or its `abilities` (persona profiles fill those; RoleMRC
decides a role's outcomes by its abilities); the better-fitting half is related, the rest
not.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from rolemill.schemas.seeds import Passage
from rolemill.tasks.generators.base import Role
from rolemill.tasks.generators.prompt_template import stable_seed

_STOPWORD_TEXT = """about above after again against almost already also although always among another
    around away back because been before being below best better between both came come
    comes could days does doing done down during each early either else enough even ever
    every fact famous find first found from full gave give given good great half have
    having help here high however into just keep kind knew know known large last late
    later least left less like little long made make makes making many more most much
    must name near need never next nothing often once only other over part perhaps place
    plain quite rather really right same seen several should show side since small some
    something soon still such sure take taken than that their them then there these they
    thing things think this those though three through time times today together took
    toward twenty under until upon used uses using very want well went were what when
    where which while whole will with within without work world would year years young your"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
WORD = re.compile(r"[a-z]{4,}")
HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")


def terms(text: str) -> set[str]:
    """Content words (English, crude singular) and Chinese character bigrams."""
    words = {w.removesuffix("s") for w in WORD.findall(text.casefold()) if w not in STOPWORDS}
    bigrams = {run[i : i + 2] for run in HAN_RUN.findall(text) for i in range(len(run) - 1)}
    return words | bigrams


def weight_sum(shared: Iterable[str], weight: Callable[[str], float]) -> float:
    """The sum of the terms' weights, the same whatever order the terms come in: a set's
    order follows PYTHONHASHSEED, and a plain float sum in that order could differ between
    runs and flip a tie at the related/unrelated edge (a rebuild would send other requests).
    """
    return math.fsum(weight(term) for term in sorted(shared))


def related_passages(
    role: Role, passages: Sequence[Passage]
) -> tuple[list[Passage], list[Passage]]:
    """(related, unrelated) passages for a role, each half ranked best fit first.

    The pool is the passages in the role's language (all passages when there are none);
    other-language passages fill the unrelated half only when it would be empty.
    """
    language, profile = role.character.language, role.profile
    pool = [p for p in passages if p.language == language] or list(passages)
    own = {p.id: terms(f"{p.title} {p.text}") for p in pool}
    frequency = Counter(term for vocabulary in own.values() for term in vocabulary)
    knows = terms(" ".join([*profile.knows, *profile.abilities]))
    world = knows | terms(" ".join([role.character.work, profile.description, profile.background]))

    def fit(passage: Passage) -> tuple[float, int]:
        score = weight_sum(
            own[passage.id] & world,
            lambda term: math.log(1 + len(pool) / frequency[term]) * (2 if term in knows else 1),
        )
        score /= math.sqrt(len(own[passage.id]) or 1)
        return -score, stable_seed("mrc", role.character.id, passage.id)

    ranked = sorted(pool, key=fit)
    half = math.ceil(len(ranked) / 2)
    related, unrelated = ranked[:half], ranked[half:]
    if not unrelated:
        unrelated = [p for p in passages if p.language != language]
    return related, unrelated
