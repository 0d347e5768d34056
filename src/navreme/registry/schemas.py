"""Registry API shapes, and the field rules the API and the importer share."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from navreme.registry import embg
from navreme.registry.models import (
    ACCESSIBILITY_NEEDS,
    CHANNELS,
    CONSENT_PURPOSES,
    DOCUMENT_KINDS,
    DOCUMENT_STATUSES,
    LANGUAGES,
    LIFE_EVENT_KINDS,
    SEXES,
)

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")  # E.164
COUNTRY = re.compile(r"^[A-Z]{2}$")  # ISO 3166-1 alpha-2
SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
HOME_COUNTRY = "MK"

# Literal[tuple] spreads the tuple: the models' tuples stay the one source of allowed values.
Language = Literal[LANGUAGES]  # type: ignore[valid-type]
Sex = Literal[SEXES]  # type: ignore[valid-type]
AccessibilityNeed = Literal[ACCESSIBILITY_NEEDS]  # type: ignore[valid-type]
Channel = Literal[CHANNELS]  # type: ignore[valid-type]
ConsentChannel = Literal[(*CHANNELS, "any")]  # type: ignore[valid-type]
ConsentPurpose = Literal[CONSENT_PURPOSES]  # type: ignore[valid-type]
DocumentKind = Literal[DOCUMENT_KINDS]  # type: ignore[valid-type]
DocumentStatus = Literal[DOCUMENT_STATUSES]  # type: ignore[valid-type]
LifeEventKind = Literal[LIFE_EVENT_KINDS]  # type: ignore[valid-type]


# --- rules shared with the importer: each returns a plain reason, or None when fine ---


def embg_problem(value: str) -> str | None:
    try:
        embg.parse(value)
    except embg.InvalidEmbg as invalid:
        return str(invalid)
    return None


def birth_date_problem(parsed: embg.Embg, birth_date: date) -> str | None:
    if birth_date != parsed.birth_date:
        return f"{birth_date} does not match the EMBG's birth date ({parsed.birth_date})"
    return None


def sex_problem(parsed: embg.Embg, sex: str) -> str | None:
    return None if sex == parsed.sex else f"'{sex}' does not match the EMBG's sex ('{parsed.sex}')"


def country_problem(value: str) -> str | None:
    if not COUNTRY.match(value):
        return "must be a two-letter ISO 3166-1 country code, e.g. DE"
    if value == HOME_COUNTRY:
        return "a residence in North Macedonia is given as a municipality"
    return None


def address_problem(channel: str, address: str) -> str | None:
    if channel == "email" and not EMAIL.match(address):
        return "not an e-mail address"
    if channel == "sms" and not PHONE.match(address):
        return "not a phone number in international form, e.g. +38970123456"
    if SPACE_OR_CONTROL.search(address):
        return "must not contain spaces or control characters"
    return None


def _refuse(kind: str, problem: str | None) -> None:
    if problem:
        raise PydanticCustomError(kind, problem)


def _valid_embg(value: str) -> str:
    _refuse("embg", embg_problem(value))
    return value


def _valid_country(value: str) -> str:
    _refuse("country", country_problem(value))
    return value


def _distinct(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


NationalId = Annotated[
    str, Field(max_length=32, description="EMBG; never sent in a URL"), AfterValidator(_valid_embg)
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Country = Annotated[str, Field(max_length=2, examples=["DE"]), AfterValidator(_valid_country)]
MunicipalityCode = Annotated[str, Field(max_length=8, examples=["MK-101"])]
Accessibility = Annotated[list[AccessibilityNeed], Field(max_length=10), AfterValidator(_distinct)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorOut(BaseModel):
    """The one error envelope: {"error": {"code", "message", "details"}}."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route: each status answers with the error envelope."""
    return {status: {"model": ErrorOut} for status in statuses}


# --- persons ---


class PersonCreate(Input):
    national_id: NationalId
    given_name: Name
    family_name: Name
    birth_date: date
    sex: Sex
    municipality_code: MunicipalityCode | None = None
    abroad_country: Country | None = None
    language: Language = "mk"
    accessibility: Accessibility = []

    @field_validator("birth_date")
    @classmethod
    def _birth_date_matches_embg(cls, value: date, info: ValidationInfo) -> date:
        if "national_id" in info.data:
            parsed = embg.parse(info.data["national_id"])
            _refuse("embg_mismatch", birth_date_problem(parsed, value))
        return value

    @field_validator("sex")
    @classmethod
    def _sex_matches_embg(cls, value: str, info: ValidationInfo) -> str:
        if "national_id" in info.data:
            _refuse("embg_mismatch", sex_problem(embg.parse(info.data["national_id"]), value))
        return value

    @model_validator(mode="after")
    def _one_residence(self) -> PersonCreate:
        if (self.municipality_code is None) == (self.abroad_country is None):
            raise PydanticCustomError(
                "residence", "give exactly one of municipality_code and abroad_country"
            )
        return self


class PersonChange(Input):
    """Only the fields sent change; a new residence (either field) replaces the old one."""

    given_name: Name | None = None
    family_name: Name | None = None
    language: Language | None = None
    accessibility: Accessibility | None = None
    municipality_code: MunicipalityCode | None = None
    abroad_country: Country | None = None

    @model_validator(mode="after")
    def _one_residence(self) -> PersonChange:
        if self.municipality_code is not None and self.abroad_country is not None:
            raise PydanticCustomError(
                "residence", "give at most one of municipality_code and abroad_country"
            )
        return self

    def changes(self) -> dict[str, Any]:
        return {name: value for name, value in self if value is not None}


class PersonLookup(Input):
    national_id: NationalId


class PersonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    national_id: str
    given_name: str
    family_name: str
    birth_date: date
    sex: str
    municipality_code: str | None
    abroad_country: str | None
    language: str
    accessibility: list[str]
    household_id: uuid.UUID | None
    death_date: date | None
    created_at: datetime
    updated_at: datetime


class PersonBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    given_name: str
    family_name: str
    birth_date: date


# --- documents and life events ---


class DocumentCreate(Input):
    kind: DocumentKind
    number: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,19}$", max_length=20, examples=["A1234567"])
    issued_on: date
    expires_on: date
    status: DocumentStatus = "valid"

    @field_validator("expires_on")
    @classmethod
    def _after_issue(cls, value: date, info: ValidationInfo) -> date:
        issued = info.data.get("issued_on")
        if issued is not None and value <= issued:
            raise PydanticCustomError("expiry_before_issue", "must be after issued_on")
        return value


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    person_id: uuid.UUID
    kind: str
    number: str
    issued_on: date
    expires_on: date
    status: str
    created_at: datetime


DetailKey = Annotated[str, StringConstraints(min_length=1, max_length=40)]
DetailValue = Annotated[str, StringConstraints(max_length=200)]


class LifeEventCreate(Input):
    kind: LifeEventKind = Field(description="a move is recorded by changing the residence")
    occurred_on: date
    details: dict[DetailKey, DetailValue] = Field(default_factory=dict, max_length=20)


class LifeEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    person_id: uuid.UUID
    kind: str
    occurred_on: date
    details: dict[str, Any]
    recorded_at: datetime


# --- contacts and consent ---


class ContactCreate(Input):
    channel: Channel
    address: str = Field(min_length=1, max_length=1000)
    preference: int = Field(default=100, ge=0, le=1000, description="lower is preferred")

    @field_validator("address")
    @classmethod
    def _fits_channel(cls, value: str, info: ValidationInfo) -> str:
        if "channel" in info.data:
            _refuse("address", address_problem(info.data["channel"], value))
        return value


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    person_id: uuid.UUID
    channel: str
    address: str
    preference: int
    verified_at: datetime | None
    created_at: datetime


class ConsentChange(Input):
    purpose: ConsentPurpose
    channel: ConsentChannel = Field(description="'any' covers every channel without its own answer")
    granted: bool = Field(description="false withdraws")


class ConsentEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    purpose: str
    channel: str
    granted: bool
    source: str
    actor: str
    recorded_at: datetime


class ConsentState(BaseModel):
    purpose: str
    channel: str
    granted: bool
    decided_by: str = Field(description="'channel' (its own answer) or 'any' (the general one)")
    since: datetime


class ConsentsOut(BaseModel):
    current: list[ConsentState]
    history: list[ConsentEventOut] | None = Field(
        default=None, description="the whole ledger, oldest first, with ?history=true"
    )


# --- guardianship ---


class GuardianLinkCreate(Input):
    guardian_id: uuid.UUID
    kind: Literal["parent", "legal_guardian"] = "parent"


class GuardianLinkOut(BaseModel):
    id: uuid.UUID
    guardian_id: uuid.UUID
    ward_id: uuid.UUID
    kind: str
    created_at: datetime
    other: PersonBrief = Field(description="the guardian (on /guardians) or the ward (on /wards)")
