"""What model calls cost: prices from the settings' table, running totals per model.

A model missing from the table costs 0 and is warned about once, so a budget in USD is never
silently blown by a model nobody priced.
"""

import logging
from collections.abc import Mapping

from client.events import Usage
from config import Price

logger = logging.getLogger("nightshift.client")

_PER_TOKENS = 1_000_000


class Ledger:
    """Prices calls and keeps the usage totals of every model used."""

    def __init__(self, pricing: Mapping[str, Price]) -> None:
        self._pricing = pricing
        self._warned: set[str] = set()
        self.usage: dict[str, Usage] = {}
        """Usage totals per model name."""

    def price(self, model: str, input_tokens: int, output_tokens: int) -> float:
        """USD for a call to ``model``; 0 (with one warning per model) when it has no price."""
        price = self._pricing.get(model)
        if price is None:
            if model not in self._warned:
                self._warned.add(model)
                logger.warning(
                    "no price for model %r: its calls are counted as costing $0; add it to [model.pricing] "
                    "in nightshift.toml so cost limits work",
                    model,
                )
            return 0.0
        return (input_tokens * price.input + output_tokens * price.output) / _PER_TOKENS

    def record(self, model: str, usage: Usage) -> None:
        self.usage[model] = self.usage.get(model, Usage()) + usage

    def total(self) -> Usage:
        return sum(self.usage.values(), Usage())
