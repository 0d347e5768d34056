"""Shared set-up for the case page, feed and inbound tests: categories loaded, a stand-in
classifier's prediction where a test needs a given one, and cases in a chosen state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session

from navreme.cases import actions, classifier
from navreme.catalogue.actions import load_demo_catalogue
from navreme.identity.principal import Principal
from tests import factories

SYSTEM = Principal(kind="system")


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    model: str = "stand-in"


def fake_classifier(monkeypatch: pytest.MonkeyPatch, label: str = "waste",
                    confidence: float = 0.9) -> None:  # fmt: skip
    """A fixed prediction, so a test decides whether a case is routed or goes to triage (the
    real classifier is tested in test_classifier.py and end to end in test_inbound_cases.py)."""
    monkeypatch.setattr(classifier, "classify", lambda text: Prediction(label, confidence))


def load(session: Session) -> None:
    load_demo_catalogue(session)
    actions.load_categories(session)
    factories.municipality(session)  # MK-101
    session.flush()


def make_case(session: Session, **overrides: Any) -> actions.Received:
    values: dict[str, Any] = {
        "text": "Контејнерот на нашата улица не е празнет две недели.", "channel": "web",
        "category_code": "waste", "municipality_code": "MK-101",
    }  # fmt: skip
    values.update(overrides)
    return actions.receive(session, actions.Submission(**values), actor=SYSTEM)
