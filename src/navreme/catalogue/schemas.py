"""Shapes of the catalogue: the data files it is loaded from and what the API returns.

Texts are complete in every language (`mk`, `sq`, `en`); the API also returns the text in the
language asked for, so a simple client never has to pick.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Language = Literal["mk", "sq", "en"]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=48)]
DepartmentCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]*$", max_length=32)]
RegistryCode = Annotated[str, StringConstraints(pattern=r"^[a-z]+\.[a-z-]+$", max_length=48)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
StepKind = Literal["apply", "decide", "produce", "collect", "deliver", "pay", "inform"]
Status = Literal["draft", "review", "published", "retired"]
Channel = Literal["web", "counter", "messenger", "sms", "email", "letter"]
Audience = Literal[
    "residents", "diaspora", "minors", "adults", "parents", "seniors", "persons-with-disabilities",
    "students", "jobseekers", "drivers", "property-owners", "businesses", "low-income",
]  # fmt: skip
Condition = Literal["valid", "completed"]

LANGUAGES: tuple[Language, ...] = get_args(Language)
CHANNELS: tuple[str, ...] = get_args(Channel)
AUDIENCES: tuple[str, ...] = get_args(Audience)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Texts(_Strict):
    """One text in every language Navreme speaks."""

    mk: Text
    sq: Text
    en: Text

    def in_(self, language: Language) -> str:
        return str(getattr(self, language))


class Names(Texts):
    """A short name (≤ 200 characters) in every language."""

    mk: Name
    sq: Name
    en: Name


# --- the data files ----------------------------------------------------------------------------


class DepartmentData(_Strict):
    code: DepartmentCode
    name: Names


class CategoryData(_Strict):
    code: Code
    name: Names


class RegistryData(_Strict):
    code: RegistryCode
    name: Names


class StepData(_Strict):
    kind: StepKind
    name: Names
    department: DepartmentCode
    lead_time_days: int = Field(ge=0, le=3650)
    needs_visit: bool = False


class EvidenceData(_Strict):
    code: Code
    name: Names
    supplied_by: RegistryCode | None


class Fee(_Strict):
    amount: int = Field(ge=0, description="whole units of the currency (denars)")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "MKD"
    label: Names


class PrerequisiteData(_Strict):
    code: Code
    condition: Condition = "valid"


class ServiceData(_Strict):
    code: Code
    version: int = Field(default=1, ge=1)
    status: Status = "published"
    name: Names
    description: Texts
    category: Code
    department: DepartmentCode
    steps: list[StepData] = Field(min_length=1)
    evidence: list[EvidenceData] = []
    fees: list[Fee] = []
    channels: list[Channel] = Field(min_length=1)
    audience: list[Audience] = Field(min_length=1)
    delivery_allowed: bool = False
    legal_basis: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] = ""
    lgsl_code: int | None = Field(default=None, ge=1)
    prerequisites: list[PrerequisiteData] = []


class LoadReport(BaseModel):
    """What `load_catalogue` did: rows created now and rows that were already there."""

    departments_created: int = 0
    departments_existing: int = 0
    services_created: int = 0
    services_existing: int = 0


# --- what the API returns ----------------------------------------------------------------------


class DepartmentOut(BaseModel):
    code: str
    name: str = Field(description="the name in the language asked for")
    names: Texts


class CategoryOut(BaseModel):
    code: str
    name: str = Field(description="the name in the language asked for")
    names: Texts
    services: int = Field(description="published services in this category")


class FeeOut(BaseModel):
    amount: int
    currency: str
    label: str
    labels: Texts


class StepOut(BaseModel):
    position: int
    kind: StepKind
    name: str
    names: Texts
    department: str
    lead_time_days: int
    needs_visit: bool


class EvidenceOut(BaseModel):
    code: str
    name: str
    names: Texts
    supplied_by: str | None = Field(
        description="registry that supplies it instead of the person; null: the person brings it"
    )


class PrerequisiteOut(BaseModel):
    code: str
    condition: Condition
    name: str | None = Field(description="the required service's name, if it is published")


class ServiceSummary(BaseModel):
    code: str
    version: int
    name: str = Field(description="the name in the language asked for")
    description: str = Field(description="the description in the language asked for")
    names: Texts
    descriptions: Texts
    category: str
    department: str
    audience: list[str]
    channels: list[str]
    delivery_allowed: bool


class ServicePage(BaseModel):
    items: list[ServiceSummary]
    total: int
    limit: int
    offset: int


class ServiceDetail(ServiceSummary):
    status: Status
    legal_basis: str
    lgsl_code: int | None
    published_at: datetime | None
    steps: list[StepOut]
    evidence: list[EvidenceOut]
    fees: list[FeeOut]
    prerequisites: list[PrerequisiteOut]
    prerequisite_chain: list[str] = Field(
        description="every service this one depends on, transitively, dependencies first"
    )
    total_lead_time_days: int
    visits_needed: int
    visits_needed_with_delivery: int = Field(
        description="visits when the document is delivered instead of collected"
    )
