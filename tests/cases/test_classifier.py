"""Request classification: built-in model, safe model files, real 311 evaluation, the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from navreme import config
from navreme.cases import classifier
from navreme.cases.classifier import Model, ModelFileError, built_in_model, fold, weights_digest
from navreme.cases.evaluation import (
    BOSTON,
    LA,
    boston_split,
    in_test,
    la_routing,
    learn_routing,
    majority_baseline,
    train_boston,
)
from navreme.cli.cases import app
from navreme.demo.reference import PROJECT_ROOT, datasets_dir

DATASETS = datasets_dir()
needs_boston = pytest.mark.skipif(
    not (DATASETS / BOSTON).is_file(),
    reason=f"Boston 311 not found under {DATASETS} (set NAVREME_DATASETS)",
)
needs_la = pytest.mark.skipif(
    not (DATASETS / LA).is_file(),
    reason=f"LA 311 not found under {DATASETS} (set NAVREME_DATASETS)",
)

# Phrasings written for this test, none of them a seed row: (text, expected category).
HELD_OUT = [
    ("Where do I renew an expired passport?", "identity-documents"),
    ("I need a birth certificate for my newborn son", "civil-status"),
    ("The rubbish bins were not emptied this week", "waste"),
    ("There is a deep pothole on the main road", "roads"),
    ("Street lamps on our street do not work at night", "street-lighting"),
    ("Water pipe leaking in front of the building, no water at home", "water"),
    ("Пасошот ми е изгубен, како да извадам нов пасош", "identity-documents"),
    ("Ѓубрето пред зградата не е собрано со денови", "waste"),
    ("Кога ќе ми се исплати пензијата", "pension"),
    ("Сакам да ја обновам возачката дозвола", "transport"),
    ("Licnata karta mi e ukradena", "identity-documents"),  # Macedonian typed in Latin
    ("Mbeturinat para shtëpisë nuk janë marrë", "waste"),
    ("Dua të ndërroj mjekun amë", "health"),
    ("Si të regjistroj firmën time të re", "business"),
    ("Llambat e rrugës nuk ndizen natën", "street-lighting"),
    ("Me duhet certifikata e lindjes per femijen", "civil-status"),  # Albanian without ë/ç
]


@pytest.fixture(scope="module")
def seed_model() -> Model:
    return built_in_model()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("NAVREME_HOME", str(tmp_path))
    monkeypatch.setenv("NAVREME_ENV", "test")
    monkeypatch.setenv("NAVREME_SECRET_KEY", "test-secret-" + "x" * 40)
    config.get_settings.cache_clear()
    classifier.model_for.cache_clear()
    yield tmp_path
    config.get_settings.cache_clear()
    classifier.model_for.cache_clear()


def test_held_out_examples__are_not_seed_rows() -> None:
    seeds = {fold(text) for _, _, text in classifier.seed_requests()}
    assert not seeds & {fold(text) for text, _ in HELD_OUT}


@pytest.mark.parametrize(("text", "expected"), HELD_OUT)
def test_built_in_model__classifies_obvious_mk_sq_en_requests(
    seed_model: Model, text: str, expected: str
) -> None:
    prediction = seed_model.predict(text)
    assert prediction.label == expected, prediction
    assert prediction.model == "built-in"


def test_prediction__top_three_with_probabilities_in_order(seed_model: Model) -> None:
    prediction = seed_model.predict("No water since yesterday")
    assert len(prediction.alternatives) == 2
    probabilities = [prediction.confidence, *(p for _, p in prediction.alternatives)]
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 1.0001
    assert prediction.label not in {label for label, _ in prediction.alternatives}


def test_fold__cyrillic_latin_and_diacritics_meet() -> None:
    assert fold("Лична Карта") == fold("lična karta") == fold("LICNA KARTA") == "licna karta"
    assert fold("Ѓубре") == "gjubre"
    assert fold("Letërnjoftimi ÇRREGJISTRIM") == "leternjoftimi crregjistrim"


def test_seed_requests__every_category_in_three_languages() -> None:
    rows = classifier.seed_requests()
    by_category: dict[str, set[str]] = {}
    for category, language, _ in rows:
        by_category.setdefault(category, set()).add(language)
    assert len(by_category) >= 15
    assert all(languages == {"mk", "sq", "en"} for languages in by_category.values())


def test_save_load__round_trip_gives_identical_predictions(
    seed_model: Model, tmp_path: Path
) -> None:
    path = tmp_path / "model.json"
    seed_model.save(path)
    loaded = Model.load(path)
    texts = [text for text, _ in HELD_OUT]
    assert np.array_equal(loaded.probabilities(texts), seed_model.probabilities(texts))
    assert [loaded.predict(t) for t in texts] == [seed_model.predict(t) for t in texts]
    loaded.save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()


def _tamper_weight(document: dict[str, Any]) -> None:
    document["intercept"] = document["intercept"][:-4] + "AAA="


def _wrong_shape_resealed(document: dict[str, Any]) -> None:
    document["labels"] = document["labels"][:-1]
    del document["sha256"]
    document["sha256"] = classifier._digest(document)


def _resealed(document: dict[str, Any], change: Any) -> None:
    change(document)
    del document["sha256"]
    document["sha256"] = classifier._digest(document)


def _pickle_like(document: dict[str, Any]) -> None:
    document.clear()
    document.update({"__reduce__": "os.system", "format": "pickle"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_tamper_weight, "checksum mismatch"),
        (_wrong_shape_resealed, "coef has"),
        (_pickle_like, "not a navreme-classifier file"),
        (lambda d: d.update(version=99), "unsupported version"),
        (
            lambda d: _resealed(d, lambda e: e["views"][0].update(analyzer="callable")),
            "unknown view",
        ),
    ],
)
def test_load__tampered_or_invalid_file_fails_clearly(
    seed_model: Model, tmp_path: Path, change: Any, message: str
) -> None:
    path = tmp_path / "model.json"
    seed_model.save(path)
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ModelFileError, match=message):
        Model.load(path)


def test_load__not_json_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(b"\x80\x04\x95 pickled bytes")
    with pytest.raises(ModelFileError, match="not a readable JSON model file"):
        Model.load(path)


def test_training__same_seed_same_weights(seed_model: Model) -> None:
    assert weights_digest(built_in_model()) == weights_digest(seed_model)


def test_cli_classify__says_built_in_until_a_model_is_installed(
    seed_model: Model, home: Path
) -> None:
    result = CliRunner().invoke(app, ["classify", "Ми истекува пасошот"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("identity-documents")
    assert "(model: built-in)" in result.output
    installed = Model(labels=seed_model.labels, views=seed_model.views, coef=seed_model.coef,
                      intercept=seed_model.intercept, metadata={"name": "installed-test"})  # fmt: skip
    installed.save(home / "models" / "classifier.json")
    classifier.model_for.cache_clear()
    result = CliRunner().invoke(app, ["classify", "Ми истекува пасошот"])
    assert "(model: installed-test)" in result.output


def test_cli_classify__broken_installed_model_is_a_clear_error(home: Path) -> None:
    (home / "models").mkdir()
    (home / "models" / "classifier.json").write_text("{}", encoding="utf-8")
    result = CliRunner().invoke(app, ["classify", "anything"])
    assert result.exit_code == 2
    assert "not a navreme-classifier file" in result.output


def test_split__fixed_by_request_id_about_one_in_five() -> None:
    ids = [str(101000000000 + n) for n in range(10_000)]
    share = sum(in_test(i) for i in ids) / len(ids)
    assert 0.18 < share < 0.22
    assert [in_test(i) for i in ids[:8]] == [False, False, True, False, False, False, False, True]


def test_routing_table__area_overrides_only_with_support() -> None:
    rows = [("Other", "1", "BOS")] * 3 + [("Other", "2", "ITA")] * 10 + [("Other", "3", "BOS")] * 5
    rows += [("Graffiti", "1", "OCB")] * 2
    table = learn_routing(rows)
    assert table.route("Other", "3") == "BOS"  # its own majority, with support
    assert table.route("Other", "1") == "ITA"  # 3 rows: too few, the category's majority
    assert table.route("Graffiti", "9") == "OCB"  # unseen area: the category
    assert table.route("Unknown", "1") == "ITA"  # unseen category: everyone's majority


@pytest.fixture(scope="module")
def boston_cli_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, set[str]]:
    """`navreme cases train` once for the module: the model file, its output, repo changes."""
    before = _repo_changes()
    out = tmp_path_factory.mktemp("trained") / "classifier.json"
    result = CliRunner().invoke(app, ["train", "--datasets", str(DATASETS), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output, _repo_changes() - before


def _repo_changes() -> set[str]:
    git = shutil.which("git")
    if git is None or not (PROJECT_ROOT / ".git").exists():
        return set()
    status = subprocess.run([git, "status", "--porcelain", "--untracked-files=all"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, check=True)  # fmt: skip
    return set(status.stdout.splitlines())


@needs_boston
def test_boston__beats_the_majority_baseline_widely_and_writes_nothing_into_the_repo(
    boston_cli_run: tuple[Path, str, set[str]],
) -> None:
    path, output, repo_changes = boston_cli_run
    model = Model.load(path)
    majority = majority_baseline(boston_split(DATASETS))
    assert model.metadata["test_macro_f1"] > majority.macro_f1 + 0.5
    assert model.metadata["test_accuracy"] > majority.accuracy + 0.4
    assert "macro-F1" in output
    assert repo_changes == set()


@needs_boston
def test_boston__same_seed_same_metrics_and_weights(
    boston_cli_run: tuple[Path, str, set[str]],
) -> None:
    first = Model.load(boston_cli_run[0])
    second, _ = train_boston(DATASETS)
    assert second.metadata["test_macro_f1"] == first.metadata["test_macro_f1"]
    assert second.metadata["test_accuracy"] == first.metadata["test_accuracy"]
    assert weights_digest(second) == weights_digest(first)


@needs_la
def test_la_routing__a_learned_type_table_beats_the_majority_agency() -> None:
    majority, by_type, _ = la_routing(DATASETS)
    assert by_type.accuracy > 0.95 > majority.accuracy
    assert by_type.macro_f1 > majority.macro_f1 + 0.5
