#ifndef DIPWIRE_SERVER_FILTER_H_
#define DIPWIRE_SERVER_FILTER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dipwire/v1/alerts.pb.h"
#include "dipwire/v1/events.pb.h"

namespace dipwire::server {

// What a filter is evaluated against: alerts (Subscribe, ListAlerts) or
// events (ListEvents). An alert-only field in an event filter is unknown.
enum class FilterTarget { kAlert, kEvent };

namespace filter_internal {
struct Node;
}  // namespace filter_internal

// How much filter text Compile accepts; dipwired's --max-filter-length and
// --max-filter-depth (README.md, "Limits"). The bounds keep what a hostile
// filter costs to compile and evaluate (time, and stack for the recursive
// descent) small. Over either, Compile fails with INVALID_ARGUMENT naming
// the limit and its flag, e.g.
//   filter: column 65: nesting deeper than 64 (--max-filter-depth=64)
struct FilterLimits {
  // Longest filter text, in characters (UTF-8 code points). A filter people
  // write is a line or two; one generated from a watch list of a few hundred
  // names still fits.
  int max_length = 4096;
  // Deepest parenthesis nesting. People nest three or four levels.
  int max_depth = 64;
};

// A compiled filter in dipwire's subset of AIP-160 (DESIGN.md, "Filter
// language"). Compiled once per subscription or listing, then evaluated per
// alert or event without allocating.
//
// Grammar (AIP-160's precedence: OR binds tighter than AND, and juxtaposition
// is AND, so `a OR b AND c` is `(a OR b) AND c` and `a b OR c` is
// `a AND (b OR c)`):
//
//   expression  = sequence { "AND" sequence }
//   sequence    = factor { factor }
//   factor      = term { "OR" term }
//   term        = [ "NOT" | "-" ] simple
//   simple      = restriction | "(" expression ")"
//   restriction = field comparator value
//   comparator  = "=" | "!=" | "<" | "<=" | ">" | ">=" | ":"
//   value       = word | quoted
//
// A word is a run of ASCII letters, digits, `_`, `.` and non-ASCII
// characters, with `-` allowed after the first character. A quoted value is
// enclosed in double quotes; inside it `\"` and `\\` are the only escapes.
// AND, OR and NOT are keywords only in upper case; field names are lower case
// and case-sensitive.
//
// Fields. Alerts: type, severity, countries, actors, headline, outlet,
// process_id, topics, kind, alert_id, event_id. Events: kind, countries,
// actors, outlet, process_id, topics, event_id. Fields of the triggering
// event (actors, outlet, ...) are read from Alert.event; `countries` of an
// alert is the alert's own field, of an event EventCountries(event). An unset
// field reads as the empty string or the empty list.
//
// Comparators:
//   `=`, `!=`   strings: exact and case-sensitive. Enums (type, severity,
//               kind): by name. Not on repeated fields (countries, actors,
//               topics).
//   `<` ... `>=` only on severity, by rank LOW < MEDIUM < HIGH.
//   `:`         repeated field: some element equals the value; string field:
//               the value is a substring. Both ignore ASCII case only
//               ("É" and "é" differ). On an enum field `:` means `=`, as
//               AIP-160 allows.
//
// Bare terms (a value without a field, e.g. `ceasefire`) are not supported.
// A filter is at most FilterLimits::max_length characters long and nests
// parentheses at most FilterLimits::max_depth deep, so hostile input costs
// bounded time and stack.
//
// A Filter is immutable after Compile and cheap to copy (copies share the
// compiled tree); it is safe for concurrent use from multiple threads.
class Filter {
 public:
  // The default limits (FilterLimits): the longest filter text accepted, in
  // characters, and the deepest parenthesis nesting.
  static constexpr int kMaxLength = FilterLimits().max_length;
  static constexpr int kMaxDepth = FilterLimits().max_depth;

  // Parses and type-checks `text` for `target`. An empty (or all white
  // space) text matches everything.
  //
  // Returns INVALID_ARGUMENT for a syntax error, an unknown field, an
  // operator a field does not support, a bad value, or a text over
  // `limits`; the message names the 1-based column (in characters, not
  // bytes) where the problem starts, e.g.
  //   filter: column 8: unknown field "colour" (known fields: type, ...)
  // Never blocks.
  static absl::StatusOr<Filter> Compile(
      absl::string_view text, FilterTarget target,
      const FilterLimits& limits = FilterLimits());

  // A filter over alerts that matches everything.
  Filter();

  // Evaluation. The alert overload requires a kAlert filter and the event
  // overload a kEvent filter; the other combination returns false. Neither
  // allocates, except that an event filter testing `countries` computes
  // EventCountries(event) once per call. Never blocks.
  bool Matches(const v1::Alert& alert) const;
  bool Matches(const v1::DiplomaticEvent& event) const;

  // True for the empty filter.
  bool matches_everything() const { return root_ == nullptr; }
  FilterTarget target() const { return target_; }

 private:
  Filter(FilterTarget target,
         std::shared_ptr<const filter_internal::Node> root);

  FilterTarget target_ = FilterTarget::kAlert;
  // Shared because copies of a compiled filter share one immutable tree.
  std::shared_ptr<const filter_internal::Node> root_;
};

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_FILTER_H_
