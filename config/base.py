"""Shared base for every settings section: unknown keys are errors, values are checked on assignment."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A settings section. Unknown keys are refused so that a typo never silently falls back."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)
