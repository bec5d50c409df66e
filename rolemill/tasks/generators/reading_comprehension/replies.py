"""The role's replies: composed from the model's structured output, then checked against
the seed's answer span and the system requirement, and repaired where a fixed repair
exists (an answer that misses the span, a requirement not followed).

The span checks (`contains`, `leaks`) are polars expressions, so the quality filters run
the very same checks over whole frames (`contains_expression`, `leak_expression`); the
generator evaluates them on one reply at a time.
"""

from __future__ import annotations

import re

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from rolemill.tasks.generators.reading_comprehension.relevance import STOPWORDS, WORD

NARRATION = re.compile(r"^\*([^*\n]+)\*")
ACTION = re.compile(r"(?<!\*)\*(?!\*)[^*\n]*(?<!\*)\*(?!\*)")
SPACE = re.compile(r"\s+")
BOLD = re.compile(r"\*\*([^*\n]+)\*\*")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
LEAK_SHARE = 0.6  # share of a span's own content words that, all in a refusal, give it away
HAN = re.compile(r"[\u4e00-\u9fff]")
# Chinese function characters, left out when comparing a span's characters with a reply
ZH_FUNCTION = frozenset("的了是在和与之也而及其就都不我你他她它这那有个着把被对")
ZH_FUNCTION_LIST = sorted(ZH_FUNCTION)
STOPWORD_LIST = sorted(STOPWORDS)

# Nested system requirements RoleMRC names (special format, special content) and the
# priority rules that override the user; their wording is in requirement.j2.
FORMATS = ("bold_fact", "capitals", "sign_off")
CONTENTS = ("catchphrase", "title")
PRIORITY_RULES = ("no_passage", "secret")


class NarratedReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    narration: str = Field(min_length=1, max_length=160)
    speech: str = Field(min_length=1, max_length=800)


class SpokenReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    speech: str = Field(min_length=1, max_length=800)


def _tidy(text: str, *, bold: bool = False) -> str:
    """`text` without `*` and with spaces collapsed; with `bold`, `**…**` pairs are kept."""
    if bold:  # split() puts the bold contents (which hold no `*`) at odd indexes
        parts = BOLD.split(text)
        text = "".join(
            f"**{part.strip()}**" if i % 2 else part.replace("*", " ")
            for i, part in enumerate(parts)
        )
    else:
        text = text.replace("*", " ")
    return SPACE.sub(" ", text).strip()


def compose(reply: NarratedReply | SpokenReply) -> str:
    """`*action* speech` or `speech`: actions the model put in its speech are dropped, so
    narration appears exactly when it was asked for; its `**bold**` stays."""
    speech = _tidy(ACTION.sub(" ", reply.speech), bold=True)
    if not isinstance(reply, NarratedReply):
        return speech
    action = _tidy(reply.narration).strip(" .")
    return f"*{action}* {speech}".strip() if action and speech else ""


def narration_of(text: str) -> str:
    """The leading `*action*` of a reply, or ''."""
    match = NARRATION.match(text)
    return match.group(0) if match else ""


def _pattern(span: str) -> str:
    return r"\s+".join(re.escape(word) for word in span.split())


def _folded(text: pl.Expr) -> pl.Expr:
    """Lower case, every whitespace run one space: how a span is looked for in a reply."""
    return text.str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()


def contains_expression(text: pl.Expr, span: pl.Expr) -> pl.Expr:
    """Whether `span` occurs in `text`, ignoring case and spacing (null if either is)."""
    return _folded(text).str.contains(_folded(span), literal=True)


def _numbers(text: pl.Expr) -> pl.Expr:
    """The numbers in a text, thousands separators dropped (list)."""
    return text.str.extract_all(NUMBER.pattern).list.eval(
        pl.element().str.replace_all(",", "", literal=True)
    )


def _content(text: pl.Expr) -> pl.Expr:
    """English content words (as relevance reads them: 4+ letters, no stopword, crude
    singular) and Chinese characters other than function ones (characters, not bigrams:
    月球的引力 and 月球引力 should match), as a list of distinct terms."""
    word = pl.element()
    words = (
        text.str.to_lowercase()
        .str.extract_all(WORD.pattern)
        .list.eval(word.filter(~word.is_in(STOPWORD_LIST)).str.strip_suffix("s"))
    )
    han = text.str.extract_all(HAN.pattern).list.eval(word.filter(~word.is_in(ZH_FUNCTION_LIST)))
    return pl.concat_list(words, han).list.unique()


def leak_expression(text: pl.Expr, span: pl.Expr, question: pl.Expr) -> pl.Expr:
    """Whether a refusal `text` gives the answer `span` away: verbatim, by a number of the
    span, or by most (LEAK_SHARE) of the span's content words that the question does not
    already hold, in any order or form. Null where `span` is null."""
    own_numbers = _numbers(span).list.set_difference(_numbers(question))
    by_number = own_numbers.list.set_intersection(_numbers(text)).list.len() > 0
    own = _content(span).list.set_difference(_content(question))
    shared = own.list.set_intersection(_content(text)).list.len()
    by_words = (own.list.len() > 0) & (shared >= LEAK_SHARE * own.list.len())
    return contains_expression(text, span) | by_number | by_words


def _one_row(expression: pl.Expr, **values: str) -> bool:
    frame = pl.DataFrame(
        {name: [value] for name, value in values.items()},
        schema={name: pl.String for name in values},
    )
    return bool(frame.select(expression).item())


def contains(text: str, span: str) -> bool:
    """Whether `span` occurs in `text` (ignoring case and spacing)."""
    return _one_row(contains_expression(pl.col("text"), pl.col("span")), text=text, span=span)


def leaks(text: str, span: str, question: str) -> bool:
    """`leak_expression` for one refusal."""
    expression = leak_expression(pl.col("text"), pl.col("span"), pl.col("question"))
    return _one_row(expression, text=text, span=span, question=question)


def join(text: str, line: str, language: str) -> str:
    return f"{text}{'' if language == 'zh' else ' '}{line}"


def follow(
    key: str, text: str, *, span: str, name: str, catchphrase: str, title: str, language: str
) -> tuple[str, bool]:
    """The reply made to follow requirement `key`, and whether it had to be repaired."""
    if key == "bold_fact":
        if re.search(rf"\*\*{_pattern(span)}\*\*", text, re.IGNORECASE):
            return text, False
        found = re.search(_pattern(span), text, re.IGNORECASE)
        if found is None:
            return join(text, f"**{span}**", language), True
        return f"{text[: found.start()]}**{found.group(0)}**{text[found.end() :]}", True
    if key == "capitals":
        return text.upper(), text != text.upper()
    if key == "sign_off":
        sign = f"— {name}"
        if text.rstrip().endswith(sign):
            return text, False
        return f"{text.rstrip()}\n{sign}", True
    if key == "catchphrase" and not contains(text, catchphrase):
        return join(text, catchphrase, language), True
    if key == "title" and not contains(text, title):
        return join(text, f"({title})" if language != "zh" else f"（{title}）", language), True
    return text, False


def requirement_options(variant: str, language: str, title: str) -> tuple[str, ...]:
    """The requirement keys a sample of `variant` may carry."""
    if variant == "special_format":
        return tuple(key for key in FORMATS if key != "capitals" or language == "en")
    if variant == "special_content":
        return tuple(key for key in CONTENTS if key != "title" or title)
    if variant == "priority":
        return PRIORITY_RULES
    return ()
