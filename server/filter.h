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

// A compiled filter in dipwire's subset of AIP-160 (DESIGN.md, "Filter
// language"). Compiled once per subscription or listing, then evaluated per
// alert or event without allocating.
//
// A Filter is immutable after Compile and cheap to copy (copies share the
// compiled tree); it is safe for concurrent use from multiple threads.
class Filter {
 public:
  // Parses and type-checks `text` for `target`. An empty (or all white
  // space) text matches everything.
  //
  // Returns INVALID_ARGUMENT for a syntax error, an unknown field, an
  // operator a field does not support or a bad value; the message names the
  // 1-based column (in characters) where the problem starts, e.g.
  //   filter: column 8: unknown field "colour"; known fields: type, ...
  static absl::StatusOr<Filter> Compile(absl::string_view text,
                                        FilterTarget target);

  // A filter that matches everything.
  Filter();

  // Evaluation. The alert overload requires a kAlert filter and the event
  // overload a kEvent filter; the other combination returns false.
  bool Matches(const v1::Alert& alert) const;
  bool Matches(const v1::DiplomaticEvent& event) const;

  // True for the empty filter.
  bool matches_everything() const { return root_ == nullptr; }
  FilterTarget target() const { return target_; }

 private:
  Filter(FilterTarget target, std::shared_ptr<const filter_internal::Node> root);

  FilterTarget target_ = FilterTarget::kAlert;
  // Shared because copies of a compiled filter share one immutable tree.
  std::shared_ptr<const filter_internal::Node> root_;
};

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_FILTER_H_
