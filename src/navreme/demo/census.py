"""National marginals the synthetic registry is calibrated on (constants, with sources).

Source: State Statistical Office of North Macedonia, Census of Population, Households and
Dwellings 2021 (reference date 5 September 2021), headline results as transcribed in
`mk-census2021/census2021_national_facts.json` of the shared datasets (SSO release
https://www.stat.gov.mk/PrikaziSoopstenie_en.aspx?rbrtxt=146 and the press reports it cites).
`tests/demo/test_census.py` checks these constants against that file when it is present.
"""

from __future__ import annotations

from itertools import accumulate

RESIDENT_POPULATION = 1_836_713
FEMALE_SHARE = 0.504  # 925,626 F / 911,087 M
MEAN_AGE = 40.08
SHARE_AGED_0_29 = 0.347  # 638,000 (published rounded)
SHARE_AGED_60_PLUS = 0.228  # 419,125
MEAN_HOUSEHOLD_SIZE = 3.06  # 1,836,713 residents in 598,632 households
MOTHER_TONGUE_ALBANIAN = 0.2434  # of all residents, 7.2 % of whom answered no language

# Percent of residents per 5-year age group (0–4 … 95–99, then 100–104). The published
# facts over-constrain: 0–29 and 60+ leave 42.5 % for 30–59, more than six times the
# published largest group (40–44, 7.0 %). We keep the total, the 0–29 and 60+ shares and
# the mean age (≈ 40.15 here against 40.08) and let 30–59 run slightly above 7 % a group.
AGE_GROUP_PERCENT = (
    5.5, 5.7, 5.8, 5.8, 5.9, 6.0,  # 0–29: 34.7
    7.3, 7.3, 7.4, 7.0, 6.8, 6.7,  # 30–59: 42.5
    7.3, 6.5, 4.3, 2.5, 1.45, 0.57, 0.15, 0.03, 0.003,  # 60+: 22.8
)  # fmt: skip
MAX_AGE = 5 * len(AGE_GROUP_PERCENT) - 1
AGE_YEARS = tuple(range(MAX_AGE + 1))
# Single years share their group's weight evenly.
AGE_CUM_WEIGHTS = tuple(accumulate(AGE_GROUP_PERCENT[age // 5] / 5 for age in AGE_YEARS))

# Women outlive men: the overall 50.4 % female comes from ≈ 49.3 % under 60, 53 % at 60–74
# and 58 % from 75 (life expectancy 78.4 F / 74.5 M, 2020).
FEMALE_SHARE_BY_AGE = tuple(0.4933 if a < 60 else 0.53 if a < 75 else 0.58 for a in AGE_YEARS)

# Share of the registry's citizens living abroad: the 2021 census counted 260,606
# non-residents among 2,097,319 enumerated (12 %), and diaspora estimates run higher.
ABROAD_SHARE = 0.17

# Where citizens abroad live: (ISO country, weight, share speaking Albanian at home, share
# preferring English). Weights follow the largest Macedonian and Albanian-Macedonian
# diasporas (Germany, Switzerland, Italy, Austria, the Americas, Australia).
DIASPORA = (
    ("DE", 20, 0.35, 0.15), ("CH", 13, 0.55, 0.10), ("IT", 12, 0.45, 0.10),
    ("AT", 7, 0.30, 0.10), ("US", 9, 0.15, 0.55), ("AU", 8, 0.05, 0.55),
    ("CA", 5, 0.10, 0.55), ("SE", 4, 0.25, 0.30), ("TR", 4, 0.10, 0.30),
    ("SI", 3, 0.25, 0.10), ("HR", 2, 0.10, 0.10), ("GB", 4, 0.25, 0.55),
    ("FR", 2, 0.25, 0.30), ("BE", 2, 0.40, 0.25), ("NL", 2, 0.20, 0.30),
)  # fmt: skip

# Share of households speaking Albanian at home, by municipality (ISO code): the Albanian
# share of the 2021 (else 2002) census population, rounded; municipalities not listed
# are taken as Macedonian-speaking (Turkish, Romani, Serbian, Vlach speakers pick mk here,
# the language of their schooling). The weighted national share comes to ≈ 25 %.
ALBANIAN_SHARE = {
    "MK-609": 0.70, "MK-604": 0.62, "MK-312": 0.58, "MK-815": 0.58, "MK-811": 0.91,
    "MK-307": 0.55, "MK-303": 0.62, "MK-605": 0.99, "MK-608": 0.85, "MK-601": 0.95,
    "MK-602": 0.70, "MK-603": 0.85, "MK-704": 0.97, "MK-802": 0.95, "MK-813": 0.70,
    "MK-606": 0.42, "MK-607": 0.25, "MK-311": 0.10, "MK-313": 0.15, "MK-703": 0.27,
    "MK-803": 0.25, "MK-804": 0.25, "MK-805": 0.08, "MK-817": 0.10, "MK-806": 0.35,
    "MK-807": 0.06, "MK-810": 0.35, "MK-812": 0.32, "MK-816": 0.25, "MK-809": 0.03,
    "MK-808": 0.03, "MK-814": 0.05, "MK-310": 0.15, "MK-304": 0.25, "MK-509": 0.10,
    "MK-505": 0.20, "MK-503": 0.30, "MK-501": 0.05, "MK-109": 0.30, "MK-101": 0.03,
    "MK-308": 0.02, "MK-502": 0.05,
}  # fmt: skip
# Residents who chose English for the interface (foreign-born spouses, returnees).
RESIDENT_ENGLISH_SHARE = 0.005
