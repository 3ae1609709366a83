"""ISO 3166-1 alpha-3 country codes, as dipwired accepts them.

One list for every part of this package that judges a country code
(:mod:`dipwire.validate` for ``--dry-run``, :mod:`dipwire.gdelt` for
GDELT's actor countries). The server's own list is built in
(``common/countries.cc``: the alpha-3 codes of Debian's iso-codes 4.15.0
plus ``XKX``, Kosovo). :func:`known_countries` reads Debian's iso-codes when
it is installed, so that the package follows the system's copy, and
otherwise falls back to :data:`SERVER_COUNTRY_CODES`, a copy of the server's
list: either way a code is judged as dipwired judges it (a test checks that
the two agree and that the copy matches ``common/countries.cc``).
"""

from __future__ import annotations

import functools
import json
from typing import FrozenSet

#: Debian's iso-codes (package ``iso-codes``).
ISO_CODES_JSON = "/usr/share/iso-codes/json/iso_3166-1.json"

#: A code that is not in ISO 3166-1 but in common use for Kosovo; dipwired
#: accepts it.
KOSOVO = "XKX"

#: The codes dipwired accepts (``common/countries.cc``, 250 codes): the
#: fallback of :func:`known_countries` when iso-codes is not installed.
SERVER_COUNTRY_CODES: FrozenSet[str] = frozenset("""
    ABW AFG AGO AIA ALA ALB AND ARE ARG ARM ASM ATA ATF ATG AUS AUT AZE
    BDI BEL BEN BES BFA BGD BGR BHR BHS BIH BLM BLR BLZ BMU BOL BRA BRB
    BRN BTN BVT BWA CAF CAN CCK CHE CHL CHN CIV CMR COD COG COK COL COM
    CPV CRI CUB CUW CXR CYM CYP CZE DEU DJI DMA DNK DOM DZA ECU EGY ERI
    ESH ESP EST ETH FIN FJI FLK FRA FRO FSM GAB GBR GEO GGY GHA GIB GIN
    GLP GMB GNB GNQ GRC GRD GRL GTM GUF GUM GUY HKG HMD HND HRV HTI HUN
    IDN IMN IND IOT IRL IRN IRQ ISL ISR ITA JAM JEY JOR JPN KAZ KEN KGZ
    KHM KIR KNA KOR KWT LAO LBN LBR LBY LCA LIE LKA LSO LTU LUX LVA MAC
    MAF MAR MCO MDA MDG MDV MEX MHL MKD MLI MLT MMR MNE MNG MNP MOZ MRT
    MSR MTQ MUS MWI MYS MYT NAM NCL NER NFK NGA NIC NIU NLD NOR NPL NRU
    NZL OMN PAK PAN PCN PER PHL PLW PNG POL PRI PRK PRT PRY PSE PYF QAT
    REU ROU RUS RWA SAU SDN SEN SGP SGS SHN SJM SLB SLE SLV SMR SOM SPM
    SRB SSD STP SUR SVK SVN SWE SWZ SXM SYC SYR TCA TCD TGO THA TJK TKL
    TKM TLS TON TTO TUN TUR TUV TWN TZA UGA UKR UMI URY USA UZB VAT VCT
    VEN VGB VIR VNM VUT WLF WSM XKX YEM ZAF ZMB ZWE
""".split())


@functools.lru_cache(maxsize=1)
def known_countries() -> FrozenSet[str]:
    """The ISO 3166-1 alpha-3 codes of Debian's iso-codes plus ``XKX``;
    :data:`SERVER_COUNTRY_CODES` when iso-codes is not installed (or its
    file cannot be read)."""
    try:
        with open(ISO_CODES_JSON, encoding="utf-8") as stream:
            entries = json.load(stream)["3166-1"]
        codes = frozenset([entry["alpha_3"] for entry in entries]
                          + [KOSOVO])
    except (OSError, ValueError, KeyError, TypeError):
        return SERVER_COUNTRY_CODES
    return codes
