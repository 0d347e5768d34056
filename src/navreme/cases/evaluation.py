"""Evaluating classification and routing on real 311 data, with a fixed, reproducible split.

A record is in the test fifth when a salted SHA-256 of its request id says so: the split does
not depend on file order, sampling or library versions. Boston's `free_text` (the citizen's own
words, without the form's template that would leak the label) → `service_name`; Los Angeles has
no free text, so its `RequestType` × area → `Owner` shows routing learned as a table of data.
"""

from __future__ import annotations

import csv
import hashlib
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from navreme.cases import SEED
from navreme.cases.classifier import Model, train

SALT = "navreme-cases-split-v1"
BOSTON = Path("boston-open311") / "boston_open311_sample.csv"
LA = Path("la-myla311-2017") / "MyLA311_Service_Request_Data_2017_Subset.csv"


@dataclass(frozen=True)
class Split:
    train_texts: list[str]
    train_labels: list[str]
    test_texts: list[str]
    test_labels: list[str]


@dataclass(frozen=True)
class Score:
    name: str
    macro_f1: float
    accuracy: float
    train_seconds: float


def in_test(request_id: str, *, salt: str = SALT) -> bool:
    """The fixed 80/20 split: about one id in five is for testing, always the same ones."""
    digest = hashlib.sha256(f"{salt}:{request_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 >= 80


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def boston_split(datasets: Path) -> Split:
    """Boston requests with free text, split by request id."""
    rows = [r for r in _rows(datasets / BOSTON) if r["free_text"].strip()]
    train_rows = [r for r in rows if not in_test(r["service_request_id"])]
    test_rows = [r for r in rows if in_test(r["service_request_id"])]
    return Split([r["free_text"] for r in train_rows], [r["service_name"] for r in train_rows],
                 [r["free_text"] for r in test_rows], [r["service_name"] for r in test_rows])  # fmt: skip


def score(name: str, truth: Sequence[str], predicted: Sequence[str], seconds: float) -> Score:
    return Score(name, float(f1_score(truth, predicted, average="macro", zero_division=0)),
                 float(accuracy_score(truth, predicted)), seconds)  # fmt: skip


def majority_baseline(split: Split) -> Score:
    """Always the most frequent training label."""
    top = Counter(split.train_labels).most_common(1)[0][0]
    return score("majority class", split.test_labels, [top] * len(split.test_labels), 0.0)


def linear_baselines(split: Split) -> list[Score]:
    """Plain TF-IDF (word unigrams, sklearn defaults) + LinearSVC or LogReg: the usual first try."""
    learners = {"TF-IDF + LinearSVC": LinearSVC(random_state=SEED),
                "TF-IDF + LogisticRegression": LogisticRegression(max_iter=1000)}  # fmt: skip
    scores = []
    for name, learner in learners.items():
        started = time.perf_counter()
        pipeline = make_pipeline(TfidfVectorizer(), learner).fit(
            split.train_texts, split.train_labels
        )
        seconds = time.perf_counter() - started
        scores.append(score(name, split.test_labels, pipeline.predict(split.test_texts), seconds))
    return scores


def train_boston(datasets: Path, *, seed: int = SEED) -> tuple[Model, Score]:
    """Our model on Boston's training part, scored on its test part (scores in the metadata)."""
    split = boston_split(datasets)
    started = time.perf_counter()
    model = train(split.train_texts, split.train_labels, seed=seed,
                  name="boston-open311", trained_on=str(BOSTON))  # fmt: skip
    seconds = time.perf_counter() - started
    result = score("Navreme (word+char TF-IDF, LogReg)", split.test_labels,
                   model.predict_many(split.test_texts), seconds)  # fmt: skip
    model.metadata |= {"test_size": len(split.test_texts), "split": f"sha256({SALT}:id) % 100 >= 80",
                       "test_macro_f1": round(result.macro_f1, 4),
                       "test_accuracy": round(result.accuracy, 4)}  # fmt: skip
    return model, result


def confusion(model: Model, split: Split, *, top: int = 6) -> tuple[list[str], list[list[int]]]:
    """The confusion matrix over the most frequent test labels (rows truth, columns predicted)."""
    labels = [label for label, _ in Counter(split.test_labels).most_common(top)]
    matrix = confusion_matrix(
        split.test_labels, model.predict_many(split.test_texts), labels=labels
    )
    return labels, matrix.tolist()


@dataclass(frozen=True)
class RoutingTable:
    """Department by (category, area), falling back to the category's, then everyone's most usual."""

    by_area: dict[tuple[str, str], str]
    by_category: dict[str, str]
    default: str

    def route(self, category: str, area: str) -> str:
        return self.by_area.get((category, area)) or self.by_category.get(category) or self.default


def learn_routing(rows: Sequence[tuple[str, str, str]], *, min_support: int = 5) -> RoutingTable:
    """A table from past (category, area, department) rows: the majority at each level.

    An area's own entry is kept only where it rests on `min_support` rows and differs from its
    category's: a handful of cases should not override what the category usually does.
    """
    by_area: dict[tuple[str, str], Counter[str]] = {}
    by_category: dict[str, Counter[str]] = {}
    for category, area, department in rows:
        by_area.setdefault((category, area), Counter())[department] += 1
        by_category.setdefault(category, Counter())[department] += 1
    categories = {key: _top(counts) for key, counts in by_category.items()}
    areas = {key: _top(counts) for key, counts in by_area.items()
             if counts.total() >= min_support and _top(counts) != categories[key[0]]}  # fmt: skip
    return RoutingTable(
        areas,
        categories,
        Counter(department for _, _, department in rows).most_common(1)[0][0],
    )


def _top(counts: Counter[str]) -> str:
    # Ties go to the alphabetically first department, so the table never depends on row order.
    return min(counts, key=lambda department: (-counts[department], department))


def la_routing(datasets: Path, *, area: str = "CD") -> list[Score]:
    """Routing LA requests to an agency: majority agency vs type-only vs type × area tables."""
    rows = _rows(datasets / LA)
    train_rows = [
        (r["RequestType"], r[area], r["Owner"]) for r in rows if not in_test(r["SRNumber"])
    ]
    test_rows = [(r["RequestType"], r[area], r["Owner"]) for r in rows if in_test(r["SRNumber"])]
    truth = [owner for _, _, owner in test_rows]
    table = learn_routing(train_rows)
    by_type = learn_routing([(category, "", owner) for category, _, owner in train_rows])
    return [
        score("majority agency", truth, [table.default] * len(truth), 0.0),
        score("RequestType → Owner", truth, [by_type.route(c, "") for c, _, _ in test_rows], 0.0),
        score(
            f"RequestType × {area} → Owner",
            truth,
            [table.route(c, a) for c, a, _ in test_rows],
            0.0,
        ),
    ]
