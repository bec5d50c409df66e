"""Quality filters: drop canonical samples that would teach a role-play model the wrong
thing, each for one counted reason.

`apply_filters` runs over a whole frame of one canonical sample config (the schema of
`rolemill/schemas/sample.py`) with polars expressions, never a Python loop per row. A
sample is dropped for the first check it fails, in the order of `DROP_REASONS`:

1. `empty`: the final assistant reply holds no letter or digit.
2. `malformed_turns`: no assistant turn, a last turn that is not the assistant's, two
   user or two assistant turns in a row, a system turn anywhere but first, an unknown
   role, or an earlier assistant turn with no letter or digit.
3. `breaking_character`: an assistant turn speaks as an AI assistant ("as an AI language
   model", "I'm an AI", "my training data", "I cannot browse the internet", "作为一个人工智能",
   "我是一个AI", ...). Phrases that name the role as an AI must end there or go on like an
   assistant ("I'm an AI, so ...", "作为AI助手，..."), so "as an AI researcher" or
   "作为一个人工智能研究员" stays. AI topic words ("language model", "OpenAI", "ChatGPT",
   "语言模型", ...) break character only when neither the role's system prompt nor the user
   brought AI up: an AI-researcher persona, a passage about AI or a user asking Sherlock
   Holmes about ChatGPT (an out-of-knowledge refusal may name what it refuses) all keep.
4. `wrong_language`: less than `min_script_share` of the assistant turns in the role's
   script (Latin for en, Han for zh; a Han character or a word of another script is one
   unit each, so an English name in a Chinese reply costs one unit, not five).
5. `too_short` / `too_long`: the final reply against the recipe's bounds (English in
   words, Chinese in characters; see `rolemill/schemas/filters.py`).
6. `refusal_quotes_answer` (mrc): a refusal turn that gives the reference answer away,
   by the generator's own leak check (`leak_expression`).
7. `answer_misses_reference` (mrc): a final answer or attempt that does not contain the
   reference answer (ignoring case and spacing: the generator's `contains_expression`).
8. `role_name_asked_back` (configs whose user turns the model wrote): a user turn names
   the role by its full name other than to address it ("What does Sherlock Holmes think
   of ...?" put to Sherlock Holmes; "Sherlock Holmes, what do you think?" stays).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

import polars as pl

from rolemill.schemas.filters import DROP_REASONS, DropReason, QualityFilterConfig
from rolemill.tasks.generators.reading_comprehension.replies import (
    contains_expression,
    leak_expression,
)

MRC_CHECKS: tuple[DropReason, ...] = ("refusal_quotes_answer", "answer_misses_reference")
# Configs whose user turns the model wrote (questions about the role). Style transfer's
# are seed instructions and MRC's are seed questions about a passage, which may name the
# role because the passage does: those are the seeds' choice, not a generation fault.
ASKED_BY_THE_MODEL = frozenset({"context_instruct", "self_alignment"})
EXCERPT_CHARS = 160
ROLES = ("system", "user", "assistant")
LETTER_OR_DIGIT = r"[\p{L}\p{N}]"

# --- breaking character (matched on lower-cased assistant turns) -------------------------
_EN_AI = (
    r"(?:ai|a\.i\.|artificial intelligence|(?:large )?language model|llm|chatbot|"
    r"virtual assistant|digital assistant)(?: (?:language model|assistant|model|system|program))?"
)
# what may follow "as an AI" / "I'm an AI" for it to be the assistant talking about itself
_EN_END = (
    r"(?:\s*(?:[,.;:!)]|—|–|$)|\s+(?:and|but|so|i|who|that|which|with|without|created|"
    r"developed|trained|made|built|designed|programmed|by|from|like|myself|here|now)\b)"
)
_ZH_AI = (
    r"(?:人工智能|ai|大型语言模型|大语言模型|语言模型|聊天机器人)(?:语言模型|助手|模型|程序|系统)?"
)
_ZH_END = r"(?:[，,。.！!；;：:、\s]|$|我|而|所以|没有|无法|不能|不会|并|只)"
BOILERPLATE = (
    rf"\bas an? {_EN_AI}{_EN_END}",
    rf"\bi(?:'m|’m| am) (?:just |only |merely |simply |but )?an? {_EN_AI}{_EN_END}",
    r"\bmy training data\b",
    r"\b(?:knowledge|training) cut-?off\b",
    r"(?:cannot|can't|can’t|can not|unable to|not able to|(?:do not|don't|don’t) have the "
    r"(?:ability|capability) to) (?:browse|surf|search) the (?:internet|web)\b",
    r"\b(?:access to|browse|retrieve|provide) (?:real-time|realtime|real time) "
    r"(?:information|data)\b",
    r"\bi (?:was|am|have been) (?:trained|developed|created|built|made|programmed) by "
    r"(?:openai|anthropic|google|meta|microsoft)\b",
    rf"作为(?:一个|一名|一款|一种|个)?{_ZH_AI}{_ZH_END}",
    rf"我(?:只|仅仅|只不过|不过)?是(?:一个|一名|一款|一种|个)?{_ZH_AI}{_ZH_END}",
    r"我的训练数据",
    r"训练数据(?:截止|截至|只到)",
    r"知识截止",
    r"(?:无法|不能|没法|没有能力|不能够)(?:浏览(?:互联网|网页|网络)|(?:访问|连接)互联网)",
    r"(?:获取|访问|提供)实时(?:信息|数据)",
)
TOPIC_WORDS = (
    r"\blanguage models?\b",
    r"\bopenai\b",
    r"\bchatgpt\b",
    r"\bgpt-?[345]",
    r"\bai (?:assistant|model)s?\b",
    r"语言模型",
    r"人工智能助手",
    r"ai助手",
    r"聊天机器人",
)
# AI brought up by the role's own prompt or by the user: topic words are then in character
AI_CONTEXT = (
    r"(?:^|[^a-z])ai(?:[^a-z]|$)|a\.i\.|artificial intelligence|machine learning|"
    r"language model|chatgpt|openai|gpt|chatbot|人工智能|机器学习|语言模型|聊天机器人"
)


class DropExample(TypedDict):
    id: str
    role_name: str
    excerpt: str


@dataclass
class FilterOutcome:
    """The rows kept (input order) and, per reason checked, how many were dropped."""

    kept: pl.DataFrame
    dropped: dict[str, int] = field(default_factory=dict)
    """every reason checked for the config, in `DROP_REASONS` order (zeros included)."""
    examples: dict[str, list[DropExample]] = field(default_factory=dict)
    """the first few dropped rows per reason (only reasons that dropped any)."""

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped.values())


def checks_for(config_name: str, settings: QualityFilterConfig) -> tuple[DropReason, ...]:
    """The checks run on a canonical sample config, in the order they are tried."""
    if not settings.enabled:
        return ()
    applicable = set(DROP_REASONS) - set(MRC_CHECKS) - {"role_name_asked_back"}
    if config_name == "mrc":
        applicable |= set(MRC_CHECKS)
    if config_name in ASKED_BY_THE_MODEL:
        applicable.add("role_name_asked_back")
    return tuple(r for r in DROP_REASONS if r in applicable and r in settings.checks)


def _any_pattern(patterns: list[str] | tuple[str, ...]) -> str:
    return "(?m)(?:" + "|".join(patterns) + ")"


def _content(role: str) -> pl.Expr:
    """The contents of a sample's turns of one role (list; a null content reads as '')."""
    element = pl.element()
    return pl.col("messages").list.eval(
        element.struct.field("content").fill_null("").filter(element.struct.field("role") == role)
    )


def _has_letter(text: pl.Expr) -> pl.Expr:
    return text.str.contains(LETTER_OR_DIGIT)


def _prepared(frame: pl.DataFrame) -> pl.LazyFrame:
    """The frame with the texts the checks read (columns starting with `_`)."""
    assistant = _content("assistant")
    users = _content("user")
    return frame.lazy().with_columns(
        _roles=pl.col("messages").list.eval(pl.element().struct.field("role")),
        _assistant=assistant,
        _final=assistant.list.last(),
        _assistant_text=assistant.list.join("\n").str.to_lowercase(),
        _users=users,
        _context=pl.concat_str(
            [_content("system").list.join("\n"), users.list.join("\n")], separator="\n"
        )
        .fill_null("")
        .str.to_lowercase(),
    )


def _malformed() -> pl.Expr:
    roles, turn = pl.col("_roles"), pl.element()
    repeated = roles.list.eval((turn == turn.shift(1)) & turn.is_in(["user", "assistant"]))
    return (
        roles.is_null()
        | ~roles.list.contains("assistant")
        | (roles.list.last() != "assistant")
        | roles.list.slice(1).list.contains("system")
        | repeated.list.any()
        | ~roles.list.eval(turn.is_in(ROLES)).list.all()
        | pl.col("_assistant").list.eval(~_has_letter(turn)).list.any()
    )


def _breaking(settings: QualityFilterConfig) -> pl.Expr:
    extra = [pl.escape_regex(phrase.lower()) for phrase in settings.extra_breaking_phrases]
    text = pl.col("_assistant_text")
    boilerplate = text.str.contains(_any_pattern([*BOILERPLATE, *extra]))
    topic = text.str.contains(_any_pattern(TOPIC_WORDS))
    return boilerplate | (topic & ~pl.col("_context").str.contains(AI_CONTEXT))


def _wrong_language(settings: QualityFilterConfig) -> pl.Expr:
    text = pl.col("_assistant").list.join("\n")
    han = text.str.count_matches(r"\p{Han}")
    latin = text.str.count_matches(r"\p{Latin}+")
    other = text.str.count_matches(r"[\p{L}--\p{Han}--\p{Latin}]+")
    language = pl.col("language")
    own = pl.when(language == "zh").then(han).when(language == "en").then(latin)
    total = han + latin + other
    return (total > 0) & (own < settings.min_script_share * total)


def reply_size(text: pl.Expr, language: pl.Expr) -> pl.Expr:
    """A reply's length in its language's unit: Chinese characters (letters and digits),
    English words (whitespace-separated tokens holding a letter or digit)."""
    characters = text.str.count_matches(LETTER_OR_DIGIT)
    words = text.str.count_matches(rf"\S*{LETTER_OR_DIGIT}\S*")
    return pl.when(language == "zh").then(characters).otherwise(words)


def _size_bounds(settings: QualityFilterConfig) -> tuple[pl.Expr, pl.Expr]:
    """(too short, too long) of the final reply."""
    size = reply_size(pl.col("_final"), pl.col("language"))
    zh = pl.col("language") == "zh"
    low = pl.when(zh).then(settings.min_chars_zh).otherwise(settings.min_words_en)
    high = pl.when(zh).then(settings.max_chars_zh).otherwise(settings.max_words_en)
    return size < low, size > high


def _mrc_field(name: str) -> pl.Expr:
    return pl.col("fields").struct.field(name)


def _refusal_quotes_answer() -> pl.Expr:
    """A refusal turn (by the sample's `turn_outcomes`) gives the answer span away."""
    refusals = _mrc_field("turn_outcomes").list.eval((pl.element() == "refusal").arg_true())
    refused = pl.col("_assistant").list.gather(refusals, null_on_oob=True).list.join("\n")
    span = _mrc_field("answer_span")
    return span.is_not_null() & leak_expression(refused, span, _mrc_field("question"))


def _answer_misses_reference() -> pl.Expr:
    """The final turn answers (or attempts) but does not contain the reference span."""
    final_outcome = _mrc_field("turn_outcomes").list.last()
    span = _mrc_field("answer_span")
    answers = final_outcome.is_in(["answer", "attempt"]) & span.is_not_null()
    return answers & ~contains_expression(pl.col("_final"), span)


def _asked_back_text() -> pl.Expr:
    """The user turns, lower case, each ending in a newline, with Chinese punctuation
    folded to ASCII and no space after a comma (so address forms are a few literals)."""
    return (
        pl.col("_users")
        .list.eval(pl.element() + "\n")
        .list.join("")
        .str.to_lowercase()
        .str.replace_many(["，", "！", "？", "。"], [",", "!", "?", "."])
        .str.replace_all(r",\s+", ",")
    )


def _role_name_asked_back() -> pl.Expr:
    """A user turn names the role by its full name other than to address it: an address
    is the name followed by `,` or `!` ("Sherlock Holmes, ...", "孙悟空！") or after a comma
    at the end of a sentence ("..., Sherlock Holmes?")."""
    text, name = _asked_back_text(), pl.col("role_name").str.to_lowercase().str.strip_chars()
    mentions = text.str.count_matches(name, literal=True)
    address = [name + mark for mark in (",", "!")] + [
        "," + name + mark for mark in ("?", ".", "\n")
    ]
    addresses = pl.sum_horizontal([text.str.count_matches(a, literal=True) for a in address])
    return (name.str.len_chars() > 0) & (mentions > addresses)


def names_role(question: str, role_name: str) -> bool:
    """Whether a question put to the role names it other than to address it: the
    `role_name_asked_back` check on one user turn (generators use it to ask again)."""
    frame = pl.DataFrame({"_users": [[question]], "role_name": [role_name]})
    return bool(frame.select(_role_name_asked_back()).item())


def _flags(checks: tuple[DropReason, ...], settings: QualityFilterConfig) -> list[pl.Expr]:
    too_short, too_long = _size_bounds(settings)
    final = pl.col("_final")
    build = {
        "empty": lambda: final.is_not_null() & ~_has_letter(final),
        "malformed_turns": _malformed,
        "breaking_character": lambda: _breaking(settings),
        "wrong_language": lambda: _wrong_language(settings),
        "too_short": lambda: too_short,
        "too_long": lambda: too_long,
        "refusal_quotes_answer": _refusal_quotes_answer,
        "answer_misses_reference": _answer_misses_reference,
        "role_name_asked_back": _role_name_asked_back,
    }
    return [build[reason]().fill_null(False) for reason in checks]


def _first_reason(checks: tuple[DropReason, ...], settings: QualityFilterConfig) -> pl.Expr:
    if not checks:
        return pl.lit(None, dtype=pl.String)
    flags = _flags(checks, settings)
    chain = pl.when(flags[0]).then(pl.lit(checks[0]))
    for reason, flag in zip(checks[1:], flags[1:], strict=True):
        chain = chain.when(flag).then(pl.lit(reason))
    return chain.otherwise(pl.lit(None, dtype=pl.String))


def _excerpt() -> pl.Expr:
    """What a dropped row's example shows: the text its reason is about, cut short (for
    breaking character, from a little before the offending phrase)."""
    reason = pl.col("_reason")
    assistant = pl.col("_assistant").list.join("\n")
    # characters before the phrase (str.find would count bytes)
    before = r"(?s)\A(.*?)" + _any_pattern([*BOILERPLATE, *TOPIC_WORDS])
    phrase = assistant.str.to_lowercase().str.extract(before, 1).str.len_chars()
    start = (phrase.fill_null(0).cast(pl.Int64) - 40).clip(lower_bound=0)
    text = (
        pl.when(reason == "malformed_turns")
        .then(pl.col("_roles").list.join(" > "))
        .when(reason == "role_name_asked_back")
        .then(pl.col("_users").list.join(" / "))
        .when(reason == "breaking_character")
        .then(assistant.str.slice(start))
        .when(reason.is_in(["wrong_language", "refusal_quotes_answer"]))
        .then(assistant)
        .otherwise(pl.col("_final"))
        .fill_null("")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )
    cut = text.str.len_chars() > EXCERPT_CHARS
    return pl.when(cut).then(text.str.slice(0, EXCERPT_CHARS - 1) + "…").otherwise(text)


def apply_filters(
    config_name: str, frame: pl.DataFrame, settings: QualityFilterConfig
) -> FilterOutcome:
    """Drop the rows of one canonical sample config that fail a quality check.

    `frame` holds samples in the canonical schema (`messages`, `language`, `role_name`;
    for `mrc`, the generator's `fields`). Rows are kept in input order; each dropped row
    counts under the first reason it fails.
    """
    missing = {"id", "role_name", "language", "messages"} - set(frame.columns)
    if missing:
        raise ValueError(
            f"quality filters: config {config_name!r} has no column(s) {sorted(missing)}; "
            "they run on canonical sample configs only"
        )
    if config_name == "mrc" and "fields" not in frame.columns:
        raise ValueError("quality filters: config 'mrc' needs its `fields` (answer_span, ...)")
    checks = checks_for(config_name, settings)
    if not checks:
        return FilterOutcome(frame)
    marked = _prepared(frame).with_columns(_reason=_first_reason(checks, settings)).collect()
    kept = marked.filter(pl.col("_reason").is_null()).select(frame.columns)
    dropped_rows = marked.filter(pl.col("_reason").is_not_null())
    counts = dict(dropped_rows.group_by("_reason").len().iter_rows())
    examples: dict[str, list[DropExample]] = {}
    if settings.examples_per_reason and dropped_rows.height:
        shown = (
            dropped_rows.group_by("_reason", maintain_order=True)
            .head(settings.examples_per_reason)
            .with_columns(_excerpt=_excerpt())
        )
        for row in shown.select("_reason", "id", "role_name", "_excerpt").iter_rows():
            reason, sample_id, role_name, excerpt = row
            examples.setdefault(reason, []).append(
                DropExample(id=sample_id, role_name=role_name, excerpt=excerpt)
            )
    return FilterOutcome(
        kept=kept,
        dropped={reason: counts.get(reason, 0) for reason in checks},
        examples={reason: examples[reason] for reason in checks if reason in examples},
    )
