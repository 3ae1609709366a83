#include <algorithm>
#include <array>
#include <cstddef>

#include "absl/strings/string_view.h"
#include "common/event_validation.h"

namespace dipwire {
namespace {

// ISO 3166-1 alpha-3 codes: every "alpha_3" value of Debian's iso-codes
// 4.15.0 (/usr/share/iso-codes/json/iso_3166-1.json, 249 codes),
// plus "XKX", the user-assigned code in common use for Kosovo. Sorted, for
// binary search. Regenerate after an iso-codes update with
//
//   /usr/bin/python3 -c 'import json; print(", ".join(sorted(
//     {"\"%s\"" % c["alpha_3"] for c in json.load(open(
//     "/usr/share/iso-codes/json/iso_3166-1.json"))["3166-1"]}
//     | {"\"XKX\""})))'
//
// then paste the output here and run clang-format.
constexpr std::array<absl::string_view, 250> kCountryCodes = {
    "ABW", "AFG", "AGO", "AIA", "ALA", "ALB", "AND", "ARE", "ARG", "ARM", "ASM",
    "ATA", "ATF", "ATG", "AUS", "AUT", "AZE", "BDI", "BEL", "BEN", "BES", "BFA",
    "BGD", "BGR", "BHR", "BHS", "BIH", "BLM", "BLR", "BLZ", "BMU", "BOL", "BRA",
    "BRB", "BRN", "BTN", "BVT", "BWA", "CAF", "CAN", "CCK", "CHE", "CHL", "CHN",
    "CIV", "CMR", "COD", "COG", "COK", "COL", "COM", "CPV", "CRI", "CUB", "CUW",
    "CXR", "CYM", "CYP", "CZE", "DEU", "DJI", "DMA", "DNK", "DOM", "DZA", "ECU",
    "EGY", "ERI", "ESH", "ESP", "EST", "ETH", "FIN", "FJI", "FLK", "FRA", "FRO",
    "FSM", "GAB", "GBR", "GEO", "GGY", "GHA", "GIB", "GIN", "GLP", "GMB", "GNB",
    "GNQ", "GRC", "GRD", "GRL", "GTM", "GUF", "GUM", "GUY", "HKG", "HMD", "HND",
    "HRV", "HTI", "HUN", "IDN", "IMN", "IND", "IOT", "IRL", "IRN", "IRQ", "ISL",
    "ISR", "ITA", "JAM", "JEY", "JOR", "JPN", "KAZ", "KEN", "KGZ", "KHM", "KIR",
    "KNA", "KOR", "KWT", "LAO", "LBN", "LBR", "LBY", "LCA", "LIE", "LKA", "LSO",
    "LTU", "LUX", "LVA", "MAC", "MAF", "MAR", "MCO", "MDA", "MDG", "MDV", "MEX",
    "MHL", "MKD", "MLI", "MLT", "MMR", "MNE", "MNG", "MNP", "MOZ", "MRT", "MSR",
    "MTQ", "MUS", "MWI", "MYS", "MYT", "NAM", "NCL", "NER", "NFK", "NGA", "NIC",
    "NIU", "NLD", "NOR", "NPL", "NRU", "NZL", "OMN", "PAK", "PAN", "PCN", "PER",
    "PHL", "PLW", "PNG", "POL", "PRI", "PRK", "PRT", "PRY", "PSE", "PYF", "QAT",
    "REU", "ROU", "RUS", "RWA", "SAU", "SDN", "SEN", "SGP", "SGS", "SHN", "SJM",
    "SLB", "SLE", "SLV", "SMR", "SOM", "SPM", "SRB", "SSD", "STP", "SUR", "SVK",
    "SVN", "SWE", "SWZ", "SXM", "SYC", "SYR", "TCA", "TCD", "TGO", "THA", "TJK",
    "TKL", "TKM", "TLS", "TON", "TTO", "TUN", "TUR", "TUV", "TWN", "TZA", "UGA",
    "UKR", "UMI", "URY", "USA", "UZB", "VAT", "VCT", "VEN", "VGB", "VIR", "VNM",
    "VUT", "WLF", "WSM", "XKX", "YEM", "ZAF", "ZMB", "ZWE",
};

// Sortedness is what the binary search relies on; check it at compile time so
// a hand edit that breaks the order fails the build.
constexpr bool IsStrictlySorted() {
  for (size_t i = 1; i < kCountryCodes.size(); ++i) {
    if (!(kCountryCodes[i - 1] < kCountryCodes[i])) return false;
  }
  return true;
}
static_assert(IsStrictlySorted(), "kCountryCodes must be sorted and unique");

}  // namespace

bool IsCountryCode(absl::string_view code) {
  if (code.size() != 3) return false;
  return std::binary_search(kCountryCodes.begin(), kCountryCodes.end(), code);
}

}  // namespace dipwire
