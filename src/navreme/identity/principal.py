"""Who is asking: the one object every access check looks at."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["anonymous", "citizen", "officer"]


@dataclass(frozen=True)
class Principal:
    kind: Kind = "anonymous"
    id: uuid.UUID | None = None
    department_id: uuid.UUID | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    session_id: uuid.UUID | None = None
    via: Literal["none", "cookie", "session_token", "api_token"] = "none"
    csrf_token: str | None = None
    language: str | None = None

    @property
    def is_officer(self) -> bool:
        return self.kind == "officer"

    @property
    def is_citizen(self) -> bool:
        return self.kind == "citizen"

    @property
    def is_admin(self) -> bool:
        return self.is_officer and "admin" in self.roles

    def has_role(self, *roles: str) -> bool:
        return self.is_officer and bool(self.roles.intersection(roles))

    @property
    def audit_kind(self) -> str:
        return "token" if self.via == "api_token" else self.kind


ANONYMOUS = Principal()
