"""The 80 municipalities as reference data shipped with Navreme (no personal data).

`municipalities.csv` beside this file is generated from the public dataset in
`<NAVREME_DATASETS>/mk-census2021/municipalities.csv` (ISO 3166-2 codes from Debian iso-codes,
seat coordinates from GeoNames, 2021 census populations where published) by
`python -m navreme.demo.reference`, so a fresh clone runs without the datasets folder.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from navreme.demo.alphabet import to_cyrillic

PROJECT_ROOT = Path(__file__).resolve().parents[3]
REFERENCE_FILE = "municipalities.csv"
COLUMNS = (
    "code", "name", "name_mk", "region", "in_city_of_skopje", "latitude", "longitude",
    "population", "population_estimated",
)  # fmt: skip

# The census total (SSO release, 5 Sep 2021) less the 29 municipalities with a published
# figure leaves 445,668 people for the other 51 (mk-census2021/SOURCE.md checks this sum).
UNPUBLISHED_TOTAL = 445_668

# How the 445,668 are split across the 51 municipalities without a published 2021 figure:
# in proportion to their 2002 census populations (SSO Census 2002, as commonly quoted; the
# figures below are rounded and approximate). The 2002 proportions are the best public proxy
# for relative size: rural municipalities shrank a little faster than towns since then, so the
# small ones are, if anything, slightly over-weighted here.
WEIGHTS_2002 = {
    "MK-102": 3_760, "MK-103": 4_545, "MK-105": 2_858, "MK-106": 19_212, "MK-107": 4_141,
    "MK-108": 18_497, "MK-109": 7_673, "MK-201": 13_941, "MK-202": 19_938, "MK-203": 17_505,
    "MK-205": 4_012, "MK-207": 8_110, "MK-208": 5_517, "MK-209": 16_193, "MK-210": 7_490,
    "MK-301": 2_433, "MK-303": 19_542, "MK-304": 5_507, "MK-308": 7_141, "MK-311": 4_545,
    "MK-313": 6_519, "MK-401": 8_707, "MK-402": 14_260, "MK-403": 11_890, "MK-404": 12_122,
    "MK-406": 3_426, "MK-407": 3_536, "MK-408": 11_567, "MK-502": 9_497, "MK-503": 13_568,
    "MK-504": 6_150, "MK-505": 9_684, "MK-506": 6_710, "MK-507": 3_549, "MK-509": 16_825,
    "MK-602": 15_855, "MK-603": 25_399, "MK-605": 24_390, "MK-606": 10_790, "MK-607": 8_618,
    "MK-608": 22_454, "MK-701": 10_441, "MK-702": 20_820, "MK-705": 4_144, "MK-706": 4_840,
    "MK-802": 11_597, "MK-806": 4_077, "MK-807": 15_894, "MK-810": 8_255, "MK-812": 5_656,
    "MK-816": 8_493,
}  # fmt: skip

# EMBG registration regions (41–49) by the town whose register they were: each municipality
# takes the region of the nearest of these towns (by seat coordinates).
EMBG_REGION_TOWNS = {
    41: "MK-501", 42: "MK-703", 43: "MK-310", 44: "MK-508", 45: "MK-814",
    46: "MK-410", 47: "MK-609", 48: "MK-101", 49: "MK-211",
}  # fmt: skip


@dataclass(frozen=True)
class MunicipalityFacts:
    code: str
    name: str
    name_mk: str
    region: str
    in_city_of_skopje: bool
    latitude: float
    longitude: float
    population: int
    population_estimated: bool  # True: our split of the unpublished remainder, not the SSO's

    def as_row(self) -> dict[str, object]:
        return {column: getattr(self, column) for column in COLUMNS}


def datasets_dir() -> Path:
    """Where the shared public datasets live (NAVREME_DATASETS, else beside the project)."""
    configured = os.environ.get("NAVREME_DATASETS")
    return Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "datasets"


def load_reference() -> list[MunicipalityFacts]:
    """The 80 municipalities from the file shipped inside the package, sorted by code."""
    text = resources.files("navreme.demo").joinpath(REFERENCE_FILE).read_text(encoding="utf-8")
    return [_facts(row) for row in csv.DictReader(text.splitlines())]


def _facts(row: dict[str, str]) -> MunicipalityFacts:
    return MunicipalityFacts(
        code=row["code"], name=row["name"], name_mk=row["name_mk"], region=row["region"],
        in_city_of_skopje=row["in_city_of_skopje"] == "True",
        latitude=float(row["latitude"]), longitude=float(row["longitude"]),
        population=int(row["population"]),
        population_estimated=row["population_estimated"] == "True",
    )  # fmt: skip


def build_from_dataset(folder: Path) -> list[MunicipalityFacts]:
    """Read the public dataset and fill the unpublished populations by WEIGHTS_2002."""
    with (folder / "mk-census2021" / "municipalities.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    estimated = split_remainder(UNPUBLISHED_TOTAL, WEIGHTS_2002)
    return sorted((_from_dataset_row(row, estimated) for row in rows), key=lambda m: m.code)


def _from_dataset_row(row: dict[str, str], estimated: dict[str, int]) -> MunicipalityFacts:
    published = row["population_2021"]
    return MunicipalityFacts(
        code=row["iso_3166_2"], name=row["name"], name_mk=to_cyrillic(row["name"]),
        region=row["statistical_region"], in_city_of_skopje=row["in_city_of_skopje"] == "yes",
        latitude=float(row["seat_lat"]), longitude=float(row["seat_lon"]),
        population=int(published) if published else estimated[row["iso_3166_2"]],
        population_estimated=not published,
    )  # fmt: skip


def split_remainder(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Split `total` in proportion to `weights`, largest remainders first (sums exactly)."""
    whole = sum(weights.values())
    exact = {key: total * weight / whole for key, weight in weights.items()}
    shares = {key: math.floor(value) for key, value in exact.items()}
    by_remainder = sorted(exact, key=lambda key: (shares[key] - exact[key], key))
    for key in by_remainder[: total - sum(shares.values())]:
        shares[key] += 1
    return shares


def embg_regions(municipalities: list[MunicipalityFacts]) -> dict[str, int]:
    """Each municipality's EMBG region: the region of the nearest register town."""
    by_code = {m.code: m for m in municipalities}
    towns = {region: by_code[code] for region, code in EMBG_REGION_TOWNS.items()}
    return {
        m.code: min(towns, key=lambda region: _distance_km(m, towns[region]))
        for m in municipalities
    }


def _distance_km(a: MunicipalityFacts, b: MunicipalityFacts) -> float:
    # Equirectangular is plenty at this scale (the country is 200 km across).
    mean_lat = math.radians((a.latitude + b.latitude) / 2)
    dx = math.radians(b.longitude - a.longitude) * math.cos(mean_lat)
    dy = math.radians(b.latitude - a.latitude)
    return 6371.0 * math.hypot(dx, dy)


def write_reference_file(municipalities: list[MunicipalityFacts], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(m.as_row() for m in municipalities)


if __name__ == "__main__":
    target = Path(__file__).with_name(REFERENCE_FILE)
    write_reference_file(build_from_dataset(datasets_dir()), target)
    print(f"wrote {target}")
