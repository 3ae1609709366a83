#include "server/alert_engine.h"

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace dipwire::server {

AlertEngine::AlertEngine() {
  // The order is fixed so that the alerts of one event (should an event ever
  // concern more than one family) always come in the same order.
  rule_sets_.push_back(NewMeetingRules());
  rule_sets_.push_back(NewTradeRules());
  rule_sets_.push_back(NewPeaceTalkRules());
}

AlertEngine::~AlertEngine() = default;

std::vector<v1::Alert> AlertEngine::Apply(const LogEntry& entry) {
  std::vector<v1::Alert> alerts;
  if (entry.event == nullptr) {
    return alerts;
  }
  for (const std::unique_ptr<RuleSet>& rules : rule_sets_) {
    if (rules->Handles(*entry.event)) {
      rules->Apply(entry, &alerts);
    }
  }
  for (size_t k = 0; k < alerts.size(); ++k) {
    alerts[k].set_alert_id(AlertId(entry.sequence, static_cast<int>(k)));
    alerts[k].clear_cursor();
  }
  return alerts;
}

// TODO: stub so that retention can code against the interface; the real
// snapshot follows on this branch.
std::string AlertEngine::SaveState() const { return ""; }

absl::Status AlertEngine::LoadState(absl::string_view /*state*/) {
  return absl::UnimplementedError("engine snapshot: not implemented yet");
}

std::string AlertEngine::AlertId(uint64_t sequence, int k) {
  return absl::StrCat("al-", sequence, "-", k);
}

}  // namespace dipwire::server
