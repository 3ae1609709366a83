#ifndef DIPWIRE_SERVER_RULES_INTERNAL_H_
#define DIPWIRE_SERVER_RULES_INTERNAL_H_

// Helpers shared by the three rule sets (meeting_rules.cc, trade_rules.cc,
// peace_talk_rules.cc): building an alert's common fields, writing
// headlines, and checking a snapshot's entries. Internal to the alert engine;
// pure functions, no state.
//
// Headline conventions (one line, what a wire editor writes):
//   - no trailing period;
//   - dates are the UTC day, YYYY-MM-DD;
//   - dollar amounts have one decimal and a unit: $240.1B, $950.0M, $12.3K,
//     and whole dollars below a thousand: $500;
//   - free text from the event (names, cities, titles) is shown trimmed with
//     runs of white space folded to one space, case kept, so a headline never
//     spans lines.

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dipwire/v1/alerts.pb.h"
#include "dipwire/v1/events.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "server/alert_engine.h"
#include "server/event_facts.h"

namespace dipwire::server::internal {

// U+2013 EN DASH, between the two codes of a country pair ("CHN–RUS").
inline constexpr absl::string_view kEnDash = "\xE2\x80\x93";

inline absl::Time ToAbslTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

inline google::protobuf::Timestamp ToProtoTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  // ToUnixSeconds rounds toward negative infinity, so nanos is in [0, 1e9).
  const int64_t seconds = absl::ToUnixSeconds(t);
  ts.set_seconds(seconds);
  if (t != absl::InfinitePast() && t != absl::InfiniteFuture()) {
    ts.set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(seconds)) /
                                      absl::Nanoseconds(1)));
  }
  return ts;
}

// "2024-04-08": the UTC day of `t`.
inline std::string FormatDay(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone());
}

// A dollar amount: "$240.1B", "$950.0M", "$12.3K", "$500". Rounds half up to
// one decimal, and moves to the next unit when rounding would show 1000.0 of
// the smaller one (999,960,000 is "$1.0B", not "$1000.0M").
inline std::string FormatUsd(int64_t value) {
  struct Unit {
    int64_t size;
    absl::string_view suffix;
  };
  static constexpr std::array<Unit, 3> kUnits = {
      {{1'000'000'000, "B"}, {1'000'000, "M"}, {1'000, "K"}}};
  if (value < 0) {
    return absl::StrCat("$", value);  // not valid; shown as is
  }
  for (const Unit& unit : kUnits) {
    // The smaller unit would round to 1000.0 from size - size / 20000 on.
    if (value < unit.size - unit.size / 20000) {
      continue;
    }
    const int64_t tenth = unit.size / 10;
    // Written to avoid overflow near INT64_MAX.
    const int64_t tenths = value / tenth + (value % tenth >= tenth / 2 ? 1 : 0);
    return absl::StrCat("$", tenths / 10, ".", tenths % 10, unit.suffix);
  }
  return absl::StrCat("$", value);
}

// "A", "A and B", "A, B and C".
inline std::string JoinAsList(const std::vector<std::string>& items) {
  if (items.empty()) {
    return "";
  }
  if (items.size() == 1) {
    return items.front();
  }
  return absl::StrCat(absl::StrJoin(items.begin(), items.end() - 1, ", "),
                      " and ", items.back());
}

// Lower-case words for statuses, as headlines use them.
inline absl::string_view MeetingStatusWord(v1::LeaderMeeting::Status status) {
  switch (status) {
    case v1::LeaderMeeting::EXPECTED:
      return "expected";
    case v1::LeaderMeeting::SCHEDULED:
      return "scheduled";
    case v1::LeaderMeeting::HELD:
      return "held";
    case v1::LeaderMeeting::POSTPONED:
      return "postponed";
    case v1::LeaderMeeting::CANCELLED:
      return "cancelled";
    default:
      break;
  }
  return "reported";
}

inline absl::string_view PeaceTalkStatusWord(
    v1::PeaceTalkUpdate::Status status) {
  switch (status) {
    case v1::PeaceTalkUpdate::PROPOSED:
      return "proposed";
    case v1::PeaceTalkUpdate::SCHEDULED:
      return "scheduled";
    case v1::PeaceTalkUpdate::IN_PROGRESS:
      return "in progress";
    case v1::PeaceTalkUpdate::STALLED:
      return "stalled";
    case v1::PeaceTalkUpdate::REJECTED:
      return "rejected";
    case v1::PeaceTalkUpdate::AGREED:
      return "agreed";
    case v1::PeaceTalkUpdate::COLLAPSED:
      return "collapsed";
    default:
      break;
  }
  return "reported";
}

// An alert for `entry` with the fields every family fills the same way:
// type, severity, headline, countries, event and created_at. The caller sets
// the change; alert_id is the AlertEngine's. `entry.event` must be non-null.
inline v1::Alert NewAlert(const LogEntry& entry, v1::Alert::Type type,
                          v1::Alert::Severity severity, std::string headline) {
  v1::Alert alert;
  alert.set_type(type);
  alert.set_severity(severity);
  alert.set_headline(std::move(headline));
  for (std::string& country : EventCountries(*entry.event)) {
    alert.add_countries(std::move(country));
  }
  *alert.mutable_event() = *entry.event;
  *alert.mutable_created_at() = ToProtoTimestamp(entry.committed_at);
  return alert;
}

// Snapshots (AlertEngine::SaveState / LoadState).

// DATA_LOSS "engine snapshot: <args>": a snapshot that SaveState could not
// have written.
template <typename... Args>
absl::Status SnapshotError(const Args&... args) {
  return absl::DataLossError(absl::StrCat("engine snapshot: ", args...));
}

// The entries of `map` ordered by key, as a snapshot writes them: equal
// states give equal bytes although a hash map's order is not stable.
template <typename Map>
std::vector<const typename Map::value_type*> SortedByKey(const Map& map) {
  std::vector<const typename Map::value_type*> entries;
  entries.reserve(map.size());
  for (const auto& entry : map) entries.push_back(&entry);
  std::sort(entries.begin(), entries.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  return entries;
}

// OK when `ts`, at `path` in the snapshot (e.g. "meetings[3].occurred_at"),
// is as ToProtoTimestamp writes it (nanos in [0, 1e9)), so that it
// round-trips through absl::Time exactly.
inline absl::Status CheckSnapshotTimestamp(
    absl::string_view path, const google::protobuf::Timestamp& ts) {
  if (ts.nanos() < 0 || ts.nanos() > 999'999'999) {
    return SnapshotError(path, ".nanos: ", ts.nanos(),
                         " is not in 0..999999999");
  }
  return absl::OkStatus();
}

// OK when `name`, at `path` in the snapshot, is as NormalizeName leaves it
// (the rules compare and key names only in that form).
inline absl::Status CheckSnapshotName(absl::string_view path,
                                      absl::string_view name) {
  if (NormalizeName(name) != name) {
    return SnapshotError(path, ": \"", absl::CEscape(name),
                         "\" is not a normalized name");
  }
  return absl::OkStatus();
}

}  // namespace dipwire::server::internal

#endif  // DIPWIRE_SERVER_RULES_INTERNAL_H_
