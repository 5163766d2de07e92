"""What every configuration section shares: unknown keys are refused, values are frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: a list of names, or one string of comma-separated names (classic took both)
NameList = str | list[str]
