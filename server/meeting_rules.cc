// Meeting rules: LEADER_MEETING_NEW and LEADER_MEETING_UPDATED (DESIGN.md,
// "Alert rules"; the contract is in alert_engine.h).

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "dipwire/internal/engine_state.pb.h"
#include "dipwire/v1/alerts.pb.h"
#include "dipwire/v1/events.pb.h"
#include "server/alert_engine.h"
#include "server/event_facts.h"
#include "server/rules_internal.h"

namespace dipwire::server {
namespace {

using internal::FormatDay;
using internal::MeetingStatusWord;
using v1::Alert;
using v1::LeaderMeeting;

// What is known of one meeting.
struct MeetingState {
  LeaderMeeting::Status status = LeaderMeeting::STATUS_UNSPECIFIED;
  absl::Time occurred_at;
  // The city as last reported; empty while none was.
  std::string city;
  absl::Time newest_reported_at = absl::InfinitePast();
};

// The identity of a meeting as a map key: "id\n<normalized meeting_id>", or
// "day\n<YYYY-MM-DD>\n<sorted normalized names, '\n'-separated>". The two
// forms cannot collide (different prefixes), and '\n' cannot occur inside a
// normalized name, so SplitMeetingKey recovers the parts (snapshots hold
// them, not the key).
constexpr absl::string_view kIdPrefix = "id\n";
constexpr absl::string_view kDayPrefix = "day\n";

std::string IdKey(absl::string_view normalized_id) {
  return absl::StrCat(kIdPrefix, normalized_id);
}

std::string DayKey(absl::string_view day,
                   const std::vector<std::string>& sorted_names) {
  return absl::StrCat(kDayPrefix, day, "\n", absl::StrJoin(sorted_names, "\n"));
}

std::string MeetingKey(const v1::DiplomaticEvent& event) {
  const LeaderMeeting& meeting = event.meeting();
  std::string id = NormalizeName(meeting.meeting_id());
  if (!id.empty()) {
    return IdKey(id);
  }
  std::vector<std::string> names;
  names.reserve(meeting.participants_size());
  for (const v1::Actor& actor : meeting.participants()) {
    names.push_back(NormalizeName(actor.name()));
  }
  std::sort(names.begin(), names.end());
  return DayKey(FormatDay(internal::ToAbslTime(event.occurred_at())), names);
}

// Writes the identity parts of `key` (a MeetingKey) into `out`. A meeting
// without participants and one with a single unnamed participant share a key
// (no valid event has either); both come back as one empty name.
void SplitMeetingKey(absl::string_view key,
                     dipwire::internal::MeetingState* out) {
  if (absl::ConsumePrefix(&key, kIdPrefix)) {
    out->set_meeting_id(std::string(key));
    return;
  }
  absl::ConsumePrefix(&key, kDayPrefix);
  const size_t end_of_day = key.find('\n');
  out->set_day(std::string(key.substr(0, end_of_day)));
  if (end_of_day == absl::string_view::npos) {
    return;
  }
  for (absl::string_view name :
       absl::StrSplit(key.substr(end_of_day + 1), '\n')) {
    out->add_participants(std::string(name));
  }
}

// OK when `day` is a UTC day as FormatDay writes it.
absl::Status CheckSnapshotDay(absl::string_view path, absl::string_view day) {
  absl::Time t;
  if (!absl::ParseTime("%Y-%m-%d", day, absl::UTCTimeZone(), &t, nullptr) ||
      FormatDay(t) != day) {
    return internal::SnapshotError(path, ": \"", absl::CEscape(day),
                                   "\" is not a day (YYYY-MM-DD)");
  }
  return absl::OkStatus();
}

// The map key of `m`, the i-th meeting of a snapshot, when its identity is
// one MeetingKey could have made.
absl::StatusOr<std::string> SnapshotMeetingKey(
    int i, const dipwire::internal::MeetingState& m) {
  const std::string path = absl::StrCat("meetings[", i, "]");
  if (!m.meeting_id().empty()) {
    DIPWIRE_RETURN_IF_ERROR(internal::CheckSnapshotName(
        absl::StrCat(path, ".meeting_id"), m.meeting_id()));
    if (!m.day().empty() || m.participants_size() > 0) {
      return internal::SnapshotError(
          path, ": a meeting_id and a day or participants (one identity only)");
    }
    return IdKey(m.meeting_id());
  }
  DIPWIRE_RETURN_IF_ERROR(
      CheckSnapshotDay(absl::StrCat(path, ".day"), m.day()));
  std::vector<std::string> names(m.participants().begin(),
                                 m.participants().end());
  for (size_t j = 0; j < names.size(); ++j) {
    DIPWIRE_RETURN_IF_ERROR(internal::CheckSnapshotName(
        absl::StrCat(path, ".participants[", j, "]"), names[j]));
  }
  if (!std::is_sorted(names.begin(), names.end())) {
    return internal::SnapshotError(path, ".participants: not sorted");
  }
  return DayKey(m.day(), names);
}

Alert::Severity MeetingSeverity(const LeaderMeeting& meeting) {
  for (const v1::Actor& actor : meeting.participants()) {
    if (actor.role() == v1::Actor::HEAD_OF_STATE ||
        actor.role() == v1::Actor::HEAD_OF_GOVERNMENT) {
      return Alert::HIGH;
    }
  }
  return Alert::MEDIUM;
}

// "Sergei Lavrov (RUS) and Wang Yi (CHN)".
std::string Participants(const LeaderMeeting& meeting) {
  std::vector<std::string> items;
  items.reserve(meeting.participants_size());
  for (const v1::Actor& actor : meeting.participants()) {
    std::string item = FoldWhiteSpace(actor.name());
    if (!actor.country().empty()) {
      absl::StrAppend(&item, " (", actor.country(), ")");
    }
    items.push_back(std::move(item));
  }
  return internal::JoinAsList(items);
}

// " in Beijing", else " in CHN" (the host), else "".
std::string Place(absl::string_view city, absl::string_view host_country) {
  std::string shown = FoldWhiteSpace(city);
  if (!shown.empty()) {
    return absl::StrCat(" in ", shown);
  }
  if (!host_country.empty()) {
    return absl::StrCat(" in ", host_country);
  }
  return "";
}

// A day and time, for when a meeting moved within its day and the day alone
// would not show the change: "2024-05-15 14:30 UTC" (with seconds if the
// minutes agree too).
std::string FormatDayTime(absl::Time t, absl::Time other) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  const char* format = "%Y-%m-%d %H:%M UTC";
  if (absl::FormatTime(format, t, utc) ==
      absl::FormatTime(format, other, utc)) {
    format = "%Y-%m-%d %H:%M:%S UTC";
  }
  return absl::FormatTime(format, t, utc);
}

class MeetingRules final : public RuleSet {
 public:
  [[nodiscard]] bool Handles(const v1::DiplomaticEvent& event) const override {
    return event.has_meeting();
  }

  void Save(dipwire::internal::EngineState* state) const override {
    const auto entries = internal::SortedByKey(meetings_);
    auto* out = state->mutable_meetings();
    out->Clear();
    out->Reserve(static_cast<int>(entries.size()));
    for (const auto* entry : entries) {
      const MeetingState& meeting = entry->second;
      dipwire::internal::MeetingState* m = out->Add();
      SplitMeetingKey(entry->first, m);
      m->set_status(meeting.status);
      *m->mutable_occurred_at() =
          internal::ToProtoTimestamp(meeting.occurred_at);
      m->set_city(meeting.city);
      *m->mutable_newest_reported_at() =
          internal::ToProtoTimestamp(meeting.newest_reported_at);
    }
  }

  absl::Status Load(const dipwire::internal::EngineState& state) override {
    meetings_.reserve(state.meetings_size());
    for (int i = 0; i < state.meetings_size(); ++i) {
      const dipwire::internal::MeetingState& m = state.meetings(i);
      DIPWIRE_ASSIGN_OR_RETURN(std::string key, SnapshotMeetingKey(i, m));
      const std::string path = absl::StrCat("meetings[", i, "]");
      // Every meeting took its status from a valid event: never unset.
      if (!LeaderMeeting::Status_IsValid(m.status()) ||
          m.status() == LeaderMeeting::STATUS_UNSPECIFIED) {
        return internal::SnapshotError(path, ".status: ", m.status(),
                                       " is not a known value");
      }
      DIPWIRE_RETURN_IF_ERROR(internal::CheckSnapshotTimestamp(
          absl::StrCat(path, ".occurred_at"), m.occurred_at()));
      // Without a meeting_id the day is occurred_at's (MeetingKey).
      if (m.meeting_id().empty() &&
          FormatDay(internal::ToAbslTime(m.occurred_at())) != m.day()) {
        return internal::SnapshotError(
            path, ".occurred_at: not on the meeting's day ", m.day());
      }
      DIPWIRE_RETURN_IF_ERROR(internal::CheckSnapshotTimestamp(
          absl::StrCat(path, ".newest_reported_at"), m.newest_reported_at()));
      auto [it, inserted] = meetings_.try_emplace(std::move(key));
      if (!inserted) {
        return internal::SnapshotError(path, ": the same meeting again");
      }
      MeetingState& meeting = it->second;
      meeting.status = m.status();
      meeting.occurred_at = internal::ToAbslTime(m.occurred_at());
      meeting.city = m.city();
      meeting.newest_reported_at = internal::ToAbslTime(m.newest_reported_at());
    }
    return absl::OkStatus();
  }

  void Apply(const LogEntry& entry, std::vector<Alert>* alerts) override {
    const v1::DiplomaticEvent& event = *entry.event;
    const LeaderMeeting& meeting = event.meeting();
    const absl::Time reported_at = internal::ToAbslTime(event.reported_at());
    const absl::Time occurred_at = internal::ToAbslTime(event.occurred_at());

    auto [it, inserted] = meetings_.try_emplace(MeetingKey(event));
    MeetingState& state = it->second;
    if (inserted) {
      state.status = meeting.status();
      state.occurred_at = occurred_at;
      state.city = meeting.city();
      state.newest_reported_at = reported_at;
      Alert alert = internal::NewAlert(
          entry, Alert::LEADER_MEETING_NEW, MeetingSeverity(meeting),
          absl::StrCat("New meeting: ", Participants(meeting),
                       Place(meeting.city(), meeting.host_country()), ", ",
                       MeetingStatusWord(meeting.status()), " ",
                       FormatDay(occurred_at)));
      alert.mutable_meeting_change()->set_status(meeting.status());
      alerts->push_back(std::move(alert));
      return;
    }

    if (reported_at < state.newest_reported_at) {
      return;  // stale
    }
    state.newest_reported_at = reported_at;

    // Without an id the day is part of the identity; the time of day alone
    // is not news (reports of one meeting often disagree on it).
    const bool has_id = !NormalizeName(meeting.meeting_id()).empty();
    const bool city_reported = !NormalizeName(meeting.city()).empty();
    const bool status_changed = meeting.status() != state.status;
    const bool time_changed = has_id && occurred_at != state.occurred_at;
    const bool city_changed = city_reported && NormalizeName(meeting.city()) !=
                                                   NormalizeName(state.city);
    if (!status_changed && !time_changed && !city_changed) {
      state.occurred_at = occurred_at;
      return;
    }

    std::string when_now = FormatDay(occurred_at);
    std::string when_before = FormatDay(state.occurred_at);
    if (time_changed && when_now == when_before) {
      when_now = FormatDayTime(occurred_at, state.occurred_at);
      when_before = FormatDayTime(state.occurred_at, occurred_at);
    }
    // The parenthesis names only what changed: "(was expected 2024-05-15)",
    // "(was in Beijing)".
    std::vector<std::string> before;
    if (status_changed) {
      before.emplace_back(MeetingStatusWord(state.status));
    }
    if (time_changed) {
      before.push_back(when_before);
    }
    std::string note;
    if (city_changed) {
      const std::string previous_city = FoldWhiteSpace(state.city);
      if (!previous_city.empty()) {
        before.push_back(absl::StrCat("in ", previous_city));
      } else if (!meeting.host_country().empty()) {
        before.push_back(absl::StrCat("in ", meeting.host_country()));
      } else {
        note = "place first reported";
      }
    }
    std::vector<std::string> notes;
    if (!before.empty()) {
      notes.push_back(absl::StrCat("was ", absl::StrJoin(before, " ")));
    }
    if (!note.empty()) {
      notes.push_back(std::move(note));
    }

    const absl::string_view city_now = city_reported
                                           ? absl::string_view(meeting.city())
                                           : absl::string_view(state.city);
    std::string headline =
        absl::StrCat("Meeting update: ", Participants(meeting),
                     Place(city_now, meeting.host_country()), " now ",
                     MeetingStatusWord(meeting.status()), " ", when_now);
    if (!notes.empty()) {
      absl::StrAppend(&headline, " (", absl::StrJoin(notes, "; "), ")");
    }

    Alert alert =
        internal::NewAlert(entry, Alert::LEADER_MEETING_UPDATED,
                           MeetingSeverity(meeting), std::move(headline));
    v1::MeetingChange* change = alert.mutable_meeting_change();
    change->set_previous_status(state.status);
    change->set_status(meeting.status());
    *change->mutable_previous_occurred_at() =
        internal::ToProtoTimestamp(state.occurred_at);
    change->set_previous_city(state.city);
    alerts->push_back(std::move(alert));

    state.status = meeting.status();
    state.occurred_at = occurred_at;
    if (city_changed) {
      state.city = meeting.city();
    }
  }

 private:
  // Keyed by MeetingKey. Looked up, and iterated only by Save, which sorts,
  // so its order cannot reach the output.
  absl::flat_hash_map<std::string, MeetingState> meetings_;
};

}  // namespace

std::unique_ptr<RuleSet> NewMeetingRules() {
  return std::make_unique<MeetingRules>();
}

}  // namespace dipwire::server
