"""A USD budget shared by the agents of one run, on top of each agent's own limits."""


class SharedBudget:
    """Every agent of a run adds its spend here; once the limit is reached each one stops."""

    def __init__(self, limit_usd: float, spent_usd: float = 0.0) -> None:
        self.limit_usd = limit_usd
        self.spent_usd = spent_usd

    def add(self, cost_usd: float) -> None:
        self.spent_usd += cost_usd

    @property
    def remaining_usd(self) -> float:
        return max(self.limit_usd - self.spent_usd, 0.0)

    @property
    def exhausted(self) -> bool:
        return self.spent_usd >= self.limit_usd
