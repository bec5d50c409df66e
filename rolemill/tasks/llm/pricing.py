"""Token prices per model (USD per million tokens); a recipe can override or add models."""

from __future__ import annotations

from rolemill.schemas.llm import ModelPrice

# List prices as published by the providers; override in the recipe's `llm.prices`.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    "gpt-4o-mini": ModelPrice(input_per_mtok=0.15, output_per_mtok=0.60),
    "gpt-4o": ModelPrice(input_per_mtok=2.50, output_per_mtok=10.00),
    "gpt-4.1-mini": ModelPrice(input_per_mtok=0.40, output_per_mtok=1.60),
    "gpt-4.1": ModelPrice(input_per_mtok=2.00, output_per_mtok=8.00),
    "claude-haiku-4-5": ModelPrice(input_per_mtok=1.00, output_per_mtok=5.00),
    "claude-sonnet-4-5": ModelPrice(input_per_mtok=3.00, output_per_mtok=15.00),
}

FREE = ModelPrice(input_per_mtok=0.0, output_per_mtok=0.0)


def price_for(model: str, provider: str, overrides: dict[str, ModelPrice]) -> ModelPrice:
    """The price of `model`: the recipe's override, else the table, else free (local/unknown)."""
    if model in overrides:
        return overrides[model]
    if provider == "local":
        return FREE
    return DEFAULT_PRICES.get(model, FREE)


def cost_usd(price: ModelPrice, prompt_tokens: int, completion_tokens: int) -> float:
    return (prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok) / 1e6
