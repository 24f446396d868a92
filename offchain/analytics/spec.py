"""Job specs: what a job computes over which columns, and exactly what it reveals.

A spec is canonical JSON (sorted keys, no spaces, UTF-8); its keccak-256 is
what JobManager stores, and its text is what JobManager's JobProposed event
carries. Participants are listed in party order: the i-th address is party i
of the computation.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from offchain.errors import ConfigError

SPEC_VERSION = 1
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

#: What each analysis may reveal; a spec must reveal exactly these, no more.
REVEALS: dict[str, tuple[str, ...]] = {
    "count": ("count",),
    "sum": ("sum",),
    "mean": ("count", "mean"),
}


class FixedPoint(BaseModel):
    """Signed k-bit fixed-point numbers scaled by 2^f."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    k: int = Field(64, ge=16, le=128)
    f: int = Field(20, ge=0, le=60)

    @model_validator(mode="after")
    def _fits(self) -> FixedPoint:
        if self.f >= self.k:
            raise ValueError(f"f={self.f} must be below k={self.k}")
        return self


class JobSpec(BaseModel):
    """An analysis over named columns of the participants' data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = SPEC_VERSION
    analysis: Literal["count", "sum", "mean"]
    column: str
    participants: tuple[str, ...]
    reveal: tuple[str, ...]
    fixed_point: FixedPoint = FixedPoint()
    title: str = ""

    @field_validator("column")
    @classmethod
    def _column(cls, value: str) -> str:
        if not _COLUMN.match(value):
            raise ValueError(f"column name {value!r} must be a letter or _ then letters, digits or _")
        return value

    @field_validator("participants")
    @classmethod
    def _participants(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not 2 <= len(value) <= 32:
            raise ValueError(f"a job needs 2 to 32 participants, got {len(value)}")
        bad = [a for a in value if not _ADDRESS.match(a)]
        if bad:
            raise ValueError(f"participant {bad[0]!r} is not an Ethereum address")
        if len({a.lower() for a in value}) != len(value):
            raise ValueError("participants must be distinct")
        return value

    @model_validator(mode="after")
    def _reveal(self) -> JobSpec:
        allowed = REVEALS[self.analysis]
        if tuple(sorted(self.reveal)) != tuple(sorted(allowed)):
            raise ValueError(f"analysis {self.analysis!r} reveals exactly {list(allowed)}, "
                             f"the spec says {list(self.reveal)}")
        return self

    def canonical(self) -> str:
        """The canonical JSON text whose keccak-256 goes on chain."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False)

    def party_of(self, address: str) -> int:
        """This address's party index; ``ConfigError`` if it does not take part."""
        lowered = [a.lower() for a in self.participants]
        if address.lower() not in lowered:
            raise ConfigError(f"{address} is not a participant of this job")
        return lowered.index(address.lower())

    @classmethod
    def parse(cls, text: str) -> JobSpec:
        """A spec from its JSON text; ``ConfigError`` naming the first problem."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "spec"
            raise ConfigError(f"invalid job spec: {where}: {first['msg'].replace('Value error, ', '')}") from err
