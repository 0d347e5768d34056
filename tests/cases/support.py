"""Shared set-up for the case page, feed and inbound tests: categories loaded, a stand-in
classifier (the real one is trained elsewhere), and cases in a chosen state."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session

from navreme.cases import actions
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
    module = types.ModuleType("navreme.cases.classifier")
    module.classify = lambda text: Prediction(label, confidence)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "navreme.cases.classifier", module)


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
