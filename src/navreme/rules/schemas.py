"""A rule as data: the schema every definition file and API request is validated against."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from navreme.registry.models import LANGUAGES

DocumentKind = Literal["id_card", "passport", "driving_licence"]
Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")]
PLACEHOLDERS = ("service", "document", "fact_date", "deadline", "days", "age", "legal_basis")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalText(Strict):
    mk: str = Field(min_length=1, max_length=600)
    sq: str = Field(min_length=1, max_length=600)
    en: str = Field(min_length=1, max_length=600)

    @model_validator(mode="after")
    def _known_placeholders(self) -> LocalText:
        import string

        for language in LANGUAGES:
            text = getattr(self, language)
            fields = {name for _, name, _, _ in string.Formatter().parse(text) if name}
            unknown = sorted(fields - set(PLACEHOLDERS))
            if unknown:
                raise ValueError(
                    f"{language}: unknown placeholder(s) {unknown}; use {PLACEHOLDERS}"
                )
        return self


class DocumentExpiry(Strict):
    """A document expires within one of the horizons (days before expiry)."""

    kind: Literal["document_expiry"]
    document: DocumentKind
    horizons_days: list[Annotated[int, Field(ge=1, le=730)]] = Field(min_length=1, max_length=6)
    grace_days: int = Field(
        default=0, ge=0, le=3650, description="still offer this long after expiry"
    )

    @field_validator("horizons_days")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("horizons must be distinct")
        return sorted(value, reverse=True)


class MandatedReplacement(Strict):
    """Every document of these kinds issued before a date must be replaced by a deadline."""

    kind: Literal["mandated_replacement"]
    documents: list[DocumentKind] = Field(min_length=1, max_length=3)
    issued_before: date
    deadline: date

    @model_validator(mode="after")
    def _deadline_after(self) -> MandatedReplacement:
        if self.deadline <= self.issued_before:
            raise ValueError("deadline must come after issued_before")
        return self


class LifeEventTrigger(Strict):
    """A recorded life event (birth, coming of age, move, death) within the last days."""

    kind: Literal["life_event"]
    event: Literal["birth", "turned_18", "move", "death"]
    within_days: int = Field(default=30, ge=1, le=365)


class AgeReached(Strict):
    """A person reaches an age within the coming days (or did within the grace window)."""

    kind: Literal["age_reached"]
    age: int = Field(ge=0, le=120)
    within_days: int = Field(default=30, ge=0, le=365)
    grace_days: int = Field(default=30, ge=0, le=365)


class Eligibility(Strict):
    """Everyone the target describes, once or once per year or month."""

    kind: Literal["eligibility"]
    period: Literal["once", "yearly", "monthly"] = "yearly"


Trigger = Annotated[
    DocumentExpiry | MandatedReplacement | LifeEventTrigger | AgeReached | Eligibility,
    Field(discriminator="kind"),
]


class Target(Strict):
    """Who among the registry's living persons the rule is for."""

    residence: Literal["any", "resident", "abroad"] = "any"
    min_age: int | None = Field(default=None, ge=0, le=120)
    max_age: int | None = Field(default=None, ge=0, le=120)
    languages: list[Literal["mk", "sq", "en"]] | None = None
    municipalities: list[Annotated[str, Field(pattern=r"^MK-\d{3}$")]] | None = None
    household_min_size: int | None = Field(default=None, ge=1, le=30)
    has_child_under: int | None = Field(default=None, ge=1, le=26)

    @model_validator(mode="after")
    def _age_range(self) -> Target:
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise ValueError("min_age is above max_age")
        return self


class RuleDefinition(Strict):
    code: Code
    version: int = Field(default=1, ge=1, le=9999)  # stored as INTEGER: a huge one must be a 422
    title: LocalText
    service: Code
    level: Literal["inform", "offer", "automatic"]
    legal_basis: str = Field(min_length=3, max_length=300)
    reason: LocalText
    trigger: Trigger
    target: Target = Target()
    lead_time_days: int = Field(default=0, ge=0, le=365)
    prerequisites: list[Code] = Field(default_factory=list, max_length=5)
    guardians_for_minors: bool = True
