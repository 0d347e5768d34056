"""Identity API shapes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class OfficerLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)
    totp: str = Field(pattern=r"^[0-9]{6}$")


class CitizenCodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    national_id: str = Field(pattern=r"^[0-9]{13}$", description="EMBG; never sent in a URL")


class CodeChallengeOut(BaseModel):
    challenge_id: uuid.UUID
    sent_to: str | None = Field(description="masked destination; null when nothing was sent")


class CitizenCodeVerify(BaseModel):
    model_config = ConfigDict(extra="forbid")
    challenge_id: uuid.UUID
    code: str = Field(pattern=r"^[0-9]{6}$")


class SessionOut(BaseModel):
    token: str = Field(description="bearer token for API clients (Authorization: Bearer nvs_…)")
    expires_at: datetime
    subject_kind: str
    subject_id: uuid.UUID


class Me(BaseModel):
    kind: str
    id: uuid.UUID | None
    department_id: uuid.UUID | None = None
    roles: list[str] = []
    via: str


class DepartmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    code: str
    name_mk: str
    name_sq: str
    name_en: str


class OfficerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    username: str
    display_name: str
    department_id: uuid.UUID
    roles: list[str]
    active: bool


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    officer_id: uuid.UUID
    name: str = Field(min_length=1, max_length=120)
    days: int | None = Field(default=365, ge=1, le=3650)


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    prefix: str
    name: str
    officer_id: uuid.UUID
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="shown once; only its hash is kept")
