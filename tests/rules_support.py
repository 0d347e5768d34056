"""A published rule for tests outside tests/rules."""

from __future__ import annotations

from sqlalchemy.orm import Session

from navreme.catalogue.actions import load_demo_catalogue
from navreme.rules.actions import create_rule_version, publish_rule
from navreme.rules.models import Rule

TEXT = {"mk": "Пасош", "sq": "Pasaporta", "en": "Passport"}


def published_expiry_rule(session: Session) -> Rule:
    load_demo_catalogue(session)
    definition = {
        "code": "passport-expiry-test", "title": TEXT, "service": "passport", "level": "offer",
        "legal_basis": "Law on Travel Documents", "reason": TEXT,
        "trigger": {"kind": "document_expiry", "document": "passport", "horizons_days": [90, 30]},
    }  # fmt: skip
    rule = publish_rule(session, create_rule_version(session, definition, actor=None), actor=None)
    session.commit()
    return rule
