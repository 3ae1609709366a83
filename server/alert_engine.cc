#include "server/alert_engine.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/proto_bytes.h"
#include "common/status_macros.h"
#include "dipwire/internal/engine_state.pb.h"
#include "server/rules_internal.h"

namespace dipwire::server {
namespace {

// The checksum field as SaveState writes it, last: the tag of field 15 as
// fixed64 ((15 << 3) | 1), then 8 bytes.
constexpr char kChecksumTag = 0x79;
constexpr size_t kChecksumFieldSize = 9;

// 64-bit FNV-1a: simple, stable across builds and platforms (unlike
// absl::Hash), and enough to catch a cut or a corrupted snapshot; it is no
// defence against forgery, which needs write access to the store anyway.
uint64_t Fnv1a(absl::string_view bytes) {
  uint64_t hash = 14695981039346656037ULL;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash;
}

// `body` (whose checksum is unset) serialized deterministically, the checksum
// appended. Appending a serialized message merges it: the checksum field
// comes last.
std::string Seal(const dipwire::internal::EngineState& body) {
  std::string bytes = SerializeDeterministically(body);
  dipwire::internal::EngineState trailer;
  trailer.set_checksum(Fnv1a(bytes));
  bytes += SerializeDeterministically(trailer);
  return bytes;
}

// The three families' rule sets, in empty state. The order is fixed so that
// the alerts of one event (should an event ever concern more than one
// family) always come in the same order.
std::vector<std::unique_ptr<RuleSet>> NewRuleSets() {
  std::vector<std::unique_ptr<RuleSet>> rule_sets;
  rule_sets.push_back(NewMeetingRules());
  rule_sets.push_back(NewTradeRules());
  rule_sets.push_back(NewPeaceTalkRules());
  return rule_sets;
}

}  // namespace

AlertEngine::AlertEngine() : rule_sets_(NewRuleSets()) {}

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

std::string AlertEngine::SaveState() const {
  dipwire::internal::EngineState state;
  state.set_version(kStateVersion);
  for (const std::unique_ptr<RuleSet>& rules : rule_sets_) {
    rules->Save(&state);
  }
  return Seal(state);
}

absl::Status AlertEngine::LoadState(absl::string_view state) {
  dipwire::internal::EngineState parsed;
  if (state.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !parsed.ParseFromArray(state.data(), static_cast<int>(state.size()))) {
    return internal::SnapshotError("not a snapshot (", state.size(),
                                   " bytes that do not parse)");
  }
  if (parsed.version() == 0) {
    return internal::SnapshotError("not a snapshot (", state.size(),
                                   " bytes without a version)");
  }
  if (parsed.version() != kStateVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        "engine snapshot: version ", parsed.version(),
        " is not supported (this server reads version ", kStateVersion, ")"));
  }
  // Deterministic serialization writes the checksum, field 15, last; a
  // snapshot cut between two entries still parses, but has lost it.
  const size_t body_size =
      state.size() - std::min(state.size(), kChecksumFieldSize);
  if (!parsed.has_checksum() || state.size() < kChecksumFieldSize ||
      state[body_size] != kChecksumTag ||
      parsed.checksum() != Fnv1a(state.substr(0, body_size))) {
    return internal::SnapshotError("checksum missing or wrong (", state.size(),
                                   " bytes, cut short or altered)");
  }

  // Built aside, swapped in only when every family loaded.
  std::vector<std::unique_ptr<RuleSet>> rule_sets = NewRuleSets();
  for (const std::unique_ptr<RuleSet>& rules : rule_sets) {
    DIPWIRE_RETURN_IF_ERROR(rules->Load(parsed));
  }
  rule_sets_ = std::move(rule_sets);
  return absl::OkStatus();
}

std::string AlertEngine::SealStateForTesting(
    const dipwire::internal::EngineState& state) {
  dipwire::internal::EngineState body = state;
  body.clear_checksum();
  return Seal(body);
}

std::string AlertEngine::AlertId(uint64_t sequence, int k) {
  return absl::StrCat("al-", sequence, "-", k);
}

}  // namespace dipwire::server
