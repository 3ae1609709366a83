#ifndef DIPWIRE_SERVER_ALERT_ENGINE_H_
#define DIPWIRE_SERVER_ALERT_ENGINE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "dipwire/v1/alerts.pb.h"
#include "dipwire/v1/events.pb.h"

namespace dipwire::server {

// Derivation of alerts from the event log (DESIGN.md, "Alert rules").
//
// Derivation is a pure function of the event log: applying the same events in
// the same order yields the same alerts with the same ids. That is what makes
// restart recovery correct: on start, the server re-applies the stored log to
// a fresh engine and discards the alerts (they are already stored).

// The event being applied, as the log holds it.
struct LogEntry {
  // 1-based position of the event in the log.
  uint64_t sequence = 0;
  // The stored event: validated, reported_at defaulted.
  const v1::DiplomaticEvent* event = nullptr;
  // The commit time of the event; becomes each alert's created_at.
  absl::Time committed_at;
};

// The rules of one family of events (meetings, trade, peace talks) and the
// state they keep. Not thread-safe: owned by one AlertEngine.
class RuleSet {
 public:
  RuleSet() = default;
  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;
  virtual ~RuleSet() = default;

  // True when this rule set handles `event`'s kind.
  virtual bool Handles(const v1::DiplomaticEvent& event) const = 0;

  // Applies the entry to the family's state and appends the alerts it yields
  // to `alerts`, with type, severity, headline, countries, event, created_at
  // and change set; alert_id and cursor are left to the AlertEngine and the
  // caller. A stale report (reported_at strictly older than the newest report
  // applied to the same identity) changes nothing and yields nothing.
  virtual void Apply(const LogEntry& entry, std::vector<v1::Alert>* alerts) = 0;
};

std::unique_ptr<RuleSet> NewMeetingRules();
std::unique_ptr<RuleSet> NewTradeRules();
std::unique_ptr<RuleSet> NewPeaceTalkRules();

// Applies events in log order to the three families' rule sets and names the
// alerts they yield: the k-th alert (0-based) of the event at sequence n has
// the id AlertId(n, k).
//
// Not thread-safe: one writer owns it.
class AlertEngine {
 public:
  // An engine with the meeting, trade and peace-talk rules, in empty state.
  AlertEngine();
  AlertEngine(const AlertEngine&) = delete;
  AlertEngine& operator=(const AlertEngine&) = delete;
  ~AlertEngine();

  // Applies `entry` (sequence must be greater than any applied before) and
  // returns the alerts it yields, in order; cursor is left empty.
  std::vector<v1::Alert> Apply(const LogEntry& entry);

  // The stable id of the k-th alert of the event at `sequence`.
  static std::string AlertId(uint64_t sequence, int k);

 private:
  std::vector<std::unique_ptr<RuleSet>> rule_sets_;
};

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_ALERT_ENGINE_H_
