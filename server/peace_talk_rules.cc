// Peace-talk rules: PEACE_TALK_STATUS_CHANGED (DESIGN.md, "Alert rules"; the
// contract is in alert_engine.h).

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
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

using internal::PeaceTalkStatusWord;
using v1::Alert;
using v1::PeaceTalkUpdate;

// What is known of one peace process.
struct ProcessState {
  PeaceTalkUpdate::Status status = PeaceTalkUpdate::STATUS_UNSPECIFIED;
  absl::Time newest_reported_at = absl::InfinitePast();
};

Alert::Severity PeaceTalkSeverity(PeaceTalkUpdate::Status status) {
  switch (status) {
    case PeaceTalkUpdate::AGREED:
    case PeaceTalkUpdate::REJECTED:
    case PeaceTalkUpdate::COLLAPSED:
      return Alert::HIGH;
    default:
      break;
  }
  return Alert::MEDIUM;
}

// "Peace talks: Ukraine peace summit (CHE) scheduled" for the first status
// known, "Peace talks: Ukraine peace summit (CHE) now rejected (was
// scheduled)" for a change.
std::string Headline(const PeaceTalkUpdate& update,
                     PeaceTalkUpdate::Status previous) {
  std::string name = FoldWhiteSpace(update.title());
  if (name.empty()) {
    name = FoldWhiteSpace(update.process_id());
  }
  std::string headline = absl::StrCat("Peace talks: ", name);
  if (!update.venue_country().empty()) {
    absl::StrAppend(&headline, " (", update.venue_country(), ")");
  }
  if (previous == PeaceTalkUpdate::STATUS_UNSPECIFIED) {
    absl::StrAppend(&headline, " ", PeaceTalkStatusWord(update.status()));
  } else {
    absl::StrAppend(&headline, " now ", PeaceTalkStatusWord(update.status()),
                    " (was ", PeaceTalkStatusWord(previous), ")");
  }
  return headline;
}

class PeaceTalkRules final : public RuleSet {
 public:
  [[nodiscard]] bool Handles(const v1::DiplomaticEvent& event) const override {
    return event.has_peace_talk();
  }

  void Save(dipwire::internal::EngineState* state) const override {
    const auto entries = internal::SortedByKey(processes_);
    auto* out = state->mutable_peace_processes();
    out->Clear();
    out->Reserve(static_cast<int>(entries.size()));
    for (const auto* entry : entries) {
      dipwire::internal::PeaceProcessState* p = out->Add();
      p->set_process_id(entry->first);
      p->set_status(entry->second.status);
      *p->mutable_newest_reported_at() =
          internal::ToProtoTimestamp(entry->second.newest_reported_at);
    }
  }

  absl::Status Load(const dipwire::internal::EngineState& state) override {
    processes_.reserve(state.peace_processes_size());
    for (int i = 0; i < state.peace_processes_size(); ++i) {
      const dipwire::internal::PeaceProcessState& p = state.peace_processes(i);
      const std::string path = absl::StrCat("peace_processes[", i, "]");
      DIPWIRE_RETURN_IF_ERROR(internal::CheckSnapshotName(
          absl::StrCat(path, ".process_id"), p.process_id()));
      if (!PeaceTalkUpdate::Status_IsValid(p.status())) {
        return internal::SnapshotError(path, ".status: ", p.status(),
                                       " is not a known value");
      }
      DIPWIRE_RETURN_IF_ERROR(internal::CheckSnapshotTimestamp(
          absl::StrCat(path, ".newest_reported_at"), p.newest_reported_at()));
      auto [it, inserted] = processes_.try_emplace(p.process_id());
      if (!inserted) {
        return internal::SnapshotError(path, ": the same process again");
      }
      it->second.status = p.status();
      it->second.newest_reported_at =
          internal::ToAbslTime(p.newest_reported_at());
    }
    return absl::OkStatus();
  }

  void Apply(const LogEntry& entry, std::vector<Alert>* alerts) override {
    const PeaceTalkUpdate& update = entry.event->peace_talk();
    const absl::Time reported_at =
        internal::ToAbslTime(entry.event->reported_at());

    ProcessState& state = processes_[NormalizeName(update.process_id())];
    if (reported_at < state.newest_reported_at) {
      return;  // stale
    }
    state.newest_reported_at = reported_at;
    if (update.status() == state.status) {
      return;
    }

    Alert alert = internal::NewAlert(entry, Alert::PEACE_TALK_STATUS_CHANGED,
                                     PeaceTalkSeverity(update.status()),
                                     Headline(update, state.status));
    v1::PeaceTalkChange* change = alert.mutable_peace_talk_change();
    change->set_previous_status(state.status);
    change->set_status(update.status());
    alerts->push_back(std::move(alert));

    state.status = update.status();
  }

 private:
  // Keyed by the normalized process_id. Looked up, and iterated only by
  // Save, which sorts, so its order cannot reach the output.
  absl::flat_hash_map<std::string, ProcessState> processes_;
};

}  // namespace

std::unique_ptr<RuleSet> NewPeaceTalkRules() {
  return std::make_unique<PeaceTalkRules>();
}

}  // namespace dipwire::server
