"""The shipped reference data and census constants agree with the public datasets."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from navreme.demo import census
from navreme.demo.alphabet import ascii_fold, to_cyrillic, to_latin
from navreme.demo.names import family_name, feminine
from navreme.demo.reference import (
    UNPUBLISHED_TOTAL,
    WEIGHTS_2002,
    build_from_dataset,
    datasets_dir,
    embg_regions,
    load_reference,
    split_remainder,
)

CENSUS = datasets_dir() / "mk-census2021"
needs_dataset = pytest.mark.skipif(
    not CENSUS.is_dir(), reason=f"public datasets not found at {CENSUS} (set NAVREME_DATASETS)"
)


def test_reference__80_municipalities_summing_to_the_census_total() -> None:
    municipalities = load_reference()
    assert len(municipalities) == 80
    assert len({m.code for m in municipalities}) == 80
    assert sum(m.population for m in municipalities) == census.RESIDENT_POPULATION
    assert sum(m.in_city_of_skopje for m in municipalities) == 10
    assert sum(m.population for m in municipalities if m.population_estimated) == UNPUBLISHED_TOTAL
    assert {m.code for m in municipalities if m.population_estimated} == set(WEIGHTS_2002)


@needs_dataset
def test_reference__shipped_file_is_what_the_dataset_generates() -> None:
    assert load_reference() == build_from_dataset(datasets_dir())


@needs_dataset
def test_reference__published_populations_kept_as_published() -> None:
    with (CENSUS / "municipalities.csv").open(encoding="utf-8") as handle:
        published = {r["iso_3166_2"]: r["population_2021"] for r in csv.DictReader(handle)}
    for municipality in load_reference():
        if published[municipality.code]:
            assert municipality.population == int(published[municipality.code])


@needs_dataset
def test_census_constants__match_the_published_facts() -> None:
    facts = json.loads((CENSUS / "census2021_national_facts.json").read_text(encoding="utf-8"))
    assert facts["total_resident_population"]["value"] == census.RESIDENT_POPULATION
    assert facts["sex"]["female_share"] == census.FEMALE_SHARE
    assert facts["mean_age_years"]["value"] == census.MEAN_AGE
    assert facts["age_facts"]["aged_0_29"]["share"] == census.SHARE_AGED_0_29
    assert facts["age_facts"]["aged_60_plus"]["share"] == census.SHARE_AGED_60_PLUS
    assert facts["households"]["mean_size"] == census.MEAN_HOUSEHOLD_SIZE


def test_age_shape__meets_the_census_marginals() -> None:
    weights = census.AGE_GROUP_PERCENT
    total = sum(weights)
    mean = sum(w * (5 * group + 2.5) for group, w in enumerate(weights)) / total
    assert abs(mean - census.MEAN_AGE) < 0.1
    assert abs(sum(weights[:6]) / total - census.SHARE_AGED_0_29) < 0.001
    assert abs(sum(weights[12:]) / total - census.SHARE_AGED_60_PLUS) < 0.001


def test_embg_regions__nearest_register_town() -> None:
    regions = embg_regions(load_reference())
    assert regions["MK-609"] == 47  # Tetovo
    assert regions["MK-604"] == 47  # Gostivar, registered in Tetovo
    assert regions["MK-312"] == 43  # Struga, near Ohrid
    assert regions["MK-811"] == 45  # Saraj, City of Skopje
    assert set(regions.values()) == set(range(41, 50))


def test_split_remainder__sums_exactly_and_keeps_proportions() -> None:
    shares = split_remainder(10, {"a": 1, "b": 1, "c": 1})
    assert sum(shares.values()) == 10
    assert sorted(shares.values()) == [3, 3, 4]
    assert split_remainder(0, {"a": 5}) == {"a": 0}


@pytest.mark.parametrize(
    ("latin", "cyrillic"),
    [("Gjorče Petrov", "Ѓорче Петров"), ("Češinovo-Obleševo", "Чешиново-Облешево"),
     ("Bogovinje", "Боговиње"), ("Mavrovo i Rostuše", "Маврово и Ростуше")],
)  # fmt: skip
def test_to_cyrillic__municipality_names(latin: str, cyrillic: str) -> None:
    assert to_cyrillic(latin) == cyrillic


def test_names__latin_spelling_and_feminine_surnames() -> None:
    assert to_latin("Ѓорѓи Џафероски") == "Gjorgji Dzhaferoski"
    assert ascii_fold("Gëzim") == "gezim"
    assert ascii_fold("Љупчо") == "ljupcho"
    assert feminine("Петровски") == "Петровска"
    assert feminine("Атанасов") == "Атанасова"
    assert family_name("Petrovski", language="en", sex="F") == "Petrovska"
    assert family_name("Xhaferi", language="sq", sex="F") == "Xhaferi"


def test_datasets_dir__follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NAVREME_DATASETS", str(tmp_path))
    assert datasets_dir() == tmp_path
