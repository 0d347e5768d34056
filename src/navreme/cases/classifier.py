"""Which service category a citizen's free text is about, with a confidence.

TF-IDF over word 1–2-grams and character 2–5-grams (within word boundaries) feeds a
multinomial logistic regression. Text is folded first — NFKC, case-folded, Macedonian Cyrillic
to Latin, diacritics dropped — so "лична карта", "lična karta" and "licna karta" meet, and
Albanian typed without ë/ç still matches. A model is saved as JSON (vocabularies, float32
arrays in base64, metadata, a SHA-256 over the rest): loading parses data and runs no code.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from navreme import clock
from navreme.config import get_settings

FORMAT = "navreme-classifier"
VERSION = 1
NORMALIZER = "fold-mk-latin-v1"
BUILT_IN = "built-in"
MODEL_FILE = Path("models") / "classifier.json"
# Word and character views of the text; the second survives typos, inflection and scripts.
VIEWS: tuple[tuple[str, tuple[int, int]], ...] = (("word", (1, 2)), ("char_wb", (2, 5)))
# Official Macedonian Latin, whose diacritics the folding then drops (ч → č → c).
_CYRILLIC = str.maketrans(
    dict(zip("абвгдежзијклмнопрстуфхцчш", "abvgdežzijklmnoprstufhcčš", strict=True))
    | {"ѓ": "gj", "ѕ": "dz", "љ": "lj", "њ": "nj", "ќ": "kj", "џ": "dž", "ѝ": "i"}
)
_COMBINING = re.compile("[\u0300-\u036f]")  # the diacritics NFKD splits off (ë → e + ¨)


class ModelFileError(ValueError):
    """A model file that is not a valid, untampered Navreme classifier."""


@dataclass(frozen=True)
class Prediction:
    """The likeliest category, its probability, and the runners-up (top-3 in all)."""

    label: str
    confidence: float
    alternatives: tuple[tuple[str, float], ...]
    model: str


@dataclass(frozen=True)
class _View:
    analyzer: str
    ngram_range: tuple[int, int]
    vocabulary: tuple[str, ...]
    idf: np.ndarray
    counter: CountVectorizer = field(compare=False, repr=False)
    index: dict[str, int] = field(compare=False, repr=False)
    analyze: Callable[[str], list[str]] = field(compare=False, repr=False)


def fold(text: str) -> str:
    """The form both training and prediction see: lower-case Latin without diacritics."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_CYRILLIC)
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text))


def _view(
    analyzer: str, ngram_range: tuple[int, int], vocabulary: Sequence[str], idf: np.ndarray
) -> _View:
    counter = CountVectorizer(
        analyzer=analyzer, ngram_range=ngram_range, preprocessor=fold, lowercase=False,
        vocabulary={term: index for index, term in enumerate(vocabulary)}, dtype=np.float32,
    )  # fmt: skip
    index = counter.vocabulary
    return _View(
        analyzer, ngram_range, tuple(vocabulary), idf, counter, index, counter.build_analyzer()
    )


def _weigh_one(view: _View, text: str) -> tuple[np.ndarray, np.ndarray]:
    """One text's nonzero (column, weight) pairs: _weigh's arithmetic without sparse matrices."""
    known = [
        (view.index[term], n)
        for term, n in Counter(view.analyze(text)).items()
        if term in view.index
    ]
    columns = np.fromiter((column for column, _ in known), dtype=np.int64, count=len(known))
    tf = np.fromiter((n for _, n in known), dtype=np.float32, count=len(known))
    weights = (np.float32(1.0) + np.log(tf)) * view.idf[columns]
    norm = np.sqrt(np.dot(weights, weights)) or np.float32(1.0)
    return columns, (weights / norm).astype(np.float32)


def _weigh(view: _View, texts: Sequence[str]) -> sp.csr_matrix:
    """Sublinear TF × IDF, L2-normalised per view (what TfidfVectorizer(sublinear_tf) does)."""
    counts = view.counter.transform(texts).astype(np.float32)
    counts.data = 1.0 + np.log(counts.data)
    weighted = counts.multiply(view.idf).tocsr()
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ weighted, dtype=np.float32)


class Model:
    """A trained classifier: views, weights and where they came from."""

    def __init__(self, *, labels: Sequence[str], views: Sequence[_View], coef: np.ndarray,
                 intercept: np.ndarray, metadata: dict[str, Any]) -> None:  # fmt: skip
        self.labels = tuple(labels)
        self.views = tuple(views)
        self.coef = coef
        self.intercept = intercept
        self.metadata = metadata

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", BUILT_IN))

    def features(self, texts: Sequence[str]) -> sp.csr_matrix:
        return sp.hstack([_weigh(view, texts) for view in self.views], format="csr")

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, one column per label, each row summing to 1."""
        scores = np.asarray(self.features(texts) @ self.coef.T) + self.intercept
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))

    def predict_many(self, texts: Sequence[str]) -> list[str]:
        return [self.labels[i] for i in self.probabilities(texts).argmax(axis=1)]

    def _probabilities_one(self, text: str) -> np.ndarray:
        scores = self.intercept.astype(np.float64)
        offset = 0
        for view in self.views:
            columns, weights = _weigh_one(view, text)
            scores = scores + self.coef[:, columns + offset] @ weights
            offset += len(view.vocabulary)
        exp = np.exp(scores - scores.max())
        return np.asarray(exp / exp.sum())

    def predict(self, text: str) -> Prediction:
        """The likeliest label for one text, with the two runners-up."""
        row = self._probabilities_one(text)
        best = np.argsort(-row, kind="stable")[:3]
        ranked = tuple((self.labels[i], round(float(row[i]), 4)) for i in best)
        return Prediction(ranked[0][0], ranked[0][1], ranked[1:], self.name)

    def save(self, path: Path) -> None:
        """Write the model as JSON with a checksum; the same model gives the same bytes."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_sealed(_document(self)), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Model:
        """Read a model file; anything not exactly what save() writes is a ModelFileError."""
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ModelFileError(f"{path}: not a readable JSON model file ({error})") from error
        try:
            return _from_document(_unsealed(document))
        except ModelFileError as error:
            raise ModelFileError(f"{path}: {error}") from error


def _encode(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


def _decode(text: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        raw = base64.b64decode(text, validate=True)
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{what} is not base64") from error
    if len(raw) != 4 * math.prod(shape):
        raise ModelFileError(f"{what} has {len(raw) // 4} values, expected shape {shape}")
    array = np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)
    if not np.isfinite(array).all():
        raise ModelFileError(f"{what} holds non-finite numbers")
    return array


def _document(model: Model) -> dict[str, Any]:
    views = [{"analyzer": v.analyzer, "ngram_range": list(v.ngram_range),
              "vocabulary": list(v.vocabulary), "idf": _encode(v.idf)} for v in model.views]  # fmt: skip
    return {
        "format": FORMAT, "version": VERSION, "normalizer": NORMALIZER,
        "labels": list(model.labels), "views": views, "coef": _encode(model.coef),
        "intercept": _encode(model.intercept), "metadata": model.metadata,
    }  # fmt: skip


def _digest(document: dict[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _sealed(document: dict[str, Any]) -> dict[str, Any]:
    return {**document, "sha256": _digest(document)}


def _unsealed(document: Any) -> dict[str, Any]:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"not a {FORMAT} file")
    if document.get("version") != VERSION or document.get("normalizer") != NORMALIZER:
        raise ModelFileError(
            f"unsupported version/normalizer (this Navreme reads {VERSION}/{NORMALIZER})"
        )
    body = {key: value for key, value in document.items() if key != "sha256"}
    if document.get("sha256") != _digest(body):
        raise ModelFileError("checksum mismatch: the file was changed after it was written")
    return body


def _from_document(document: dict[str, Any]) -> Model:
    labels = _strings(document.get("labels"), "labels")
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ModelFileError("labels must be at least two distinct strings")
    views = [_view_from(entry) for entry in _list(document.get("views"), "views")]
    if [(v.analyzer, v.ngram_range) for v in views] != list(VIEWS):
        raise ModelFileError(f"views must be {VIEWS}")
    width = sum(len(v.vocabulary) for v in views)
    coef = _decode(document.get("coef"), (len(labels), width), "coef")
    intercept = _decode(document.get("intercept"), (len(labels),), "intercept")
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        raise ModelFileError("metadata must be an object")
    return Model(labels=labels, views=views, coef=coef, intercept=intercept, metadata=metadata)


def _view_from(entry: Any) -> _View:
    if not isinstance(entry, dict):
        raise ModelFileError("each view must be an object")
    ngram = entry.get("ngram_range")
    if not (isinstance(ngram, list) and len(ngram) == 2 and all(type(n) is int for n in ngram)):
        raise ModelFileError("ngram_range must be two integers")
    if (entry.get("analyzer"), (ngram[0], ngram[1])) not in VIEWS:
        raise ModelFileError(
            f"unknown view {entry.get('analyzer')!r} {ngram}; this Navreme has {VIEWS}"
        )
    vocabulary = _strings(entry.get("vocabulary"), "vocabulary")
    if len(set(vocabulary)) != len(vocabulary):
        raise ModelFileError("vocabulary has duplicate terms")
    idf = _decode(entry.get("idf"), (len(vocabulary),), "idf")
    return _view(str(entry.get("analyzer")), (ngram[0], ngram[1]), vocabulary, idf)


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ModelFileError(f"{what} must be a list")
    return value


def _strings(value: Any, what: str) -> list[str]:
    items = _list(value, what)
    if not all(isinstance(item, str) for item in items):
        raise ModelFileError(f"{what} must hold only strings")
    return items


def _fit_view(
    analyzer: str, ngram_range: tuple[int, int], texts: Sequence[str], min_df: int
) -> _View:
    tfidf = TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, preprocessor=fold,
                            lowercase=False, min_df=min_df, sublinear_tf=True)  # fmt: skip
    tfidf.fit(texts)
    vocabulary = sorted(tfidf.vocabulary_, key=tfidf.vocabulary_.__getitem__)
    return _view(analyzer, ngram_range, vocabulary, tfidf.idf_.astype(np.float32))


def train(texts: Sequence[str], labels: Sequence[str], *, seed: int, c: float = 2.0,
          min_df: int | None = None, name: str = BUILT_IN, trained_on: str = "") -> Model:  # fmt: skip
    """Fit views and a class-balanced logistic regression; the same inputs give the same model."""
    if len(texts) != len(labels) or len(set(labels)) < 2:
        raise ValueError("train() needs one label per text and at least two labels")
    min_df = min_df if min_df is not None else (2 if len(texts) >= 1000 else 1)
    views = [_fit_view(analyzer, ngram, texts, min_df) for analyzer, ngram in VIEWS]
    features = sp.hstack([_weigh(view, texts) for view in views], format="csr")
    regression = LogisticRegression(C=c, class_weight="balanced", max_iter=3000, random_state=seed)
    regression.fit(features, list(labels))
    metadata = {
        "name": name, "trained_on": trained_on, "trained_at": clock.now().isoformat(),
        "seed": seed, "c": c, "min_df": min_df, "train_size": len(texts),
        "features": features.shape[1], "classes": len(regression.classes_),
    }  # fmt: skip
    return Model(labels=[str(label) for label in regression.classes_], views=views,
                 coef=regression.coef_.astype(np.float32),
                 intercept=regression.intercept_.astype(np.float32), metadata=metadata)  # fmt: skip


def weights_digest(model: Model) -> str:
    """SHA-256 of everything but the metadata: equal for two trainings on the same data and seed."""
    document = _document(model)
    del document["metadata"]
    return _digest(document)


def seed_requests() -> list[tuple[str, str, str]]:
    """The built-in labelled examples: (category, language, text)."""
    text = resources.files("navreme.cases").joinpath("data/seed_requests.csv").read_text("utf-8")
    return [
        (row["category"], row["lang"], row["text"]) for row in csv.DictReader(text.splitlines())
    ]


@lru_cache(maxsize=1)
def built_in_model() -> Model:
    """The small model trained from the seed requests, for when no trained model is installed
    (trained once per process, whichever NAVREME_HOME asks)."""
    rows = seed_requests()
    return train([r[2] for r in rows], [r[0] for r in rows], seed=0, c=20.0,
                 name=BUILT_IN, trained_on="navreme.cases/data/seed_requests.csv")  # fmt: skip


@lru_cache(maxsize=4)
def model_for(home: Path) -> Model:
    """The installed model under NAVREME_HOME (models/classifier.json), else the built-in one."""
    path = home / MODEL_FILE
    return Model.load(path) if path.is_file() else built_in_model()


def classify(text: str) -> Prediction:
    """Predict the category of a citizen's text with the model this installation uses."""
    return model_for(get_settings().home.resolve()).predict(text)
