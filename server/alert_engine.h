#ifndef DIPWIRE_SERVER_ALERT_ENGINE_H_
#define DIPWIRE_SERVER_ALERT_ENGINE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dipwire/v1/alerts.pb.h"
#include "dipwire/v1/events.pb.h"

namespace dipwire::internal {
class EngineState;  // proto/dipwire/internal/engine_state.proto
}  // namespace dipwire::internal

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
  [[nodiscard]] virtual bool Handles(
      const v1::DiplomaticEvent& event) const = 0;

  // Applies the entry to the family's state and appends the alerts it yields
  // to `alerts`, with type, severity, headline, countries, event, created_at
  // and change set; alert_id and cursor are left to the AlertEngine and the
  // caller. A stale report (reported_at strictly older than the newest report
  // applied to the same identity) changes nothing and yields nothing.
  virtual void Apply(const LogEntry& entry, std::vector<v1::Alert>* alerts) = 0;

  // Writes the family's whole state into its part of `state` (e.g.
  // state->meetings), replacing what that part held, sorted by identity so
  // that equal states write equal messages. `state` is borrowed for the call.
  virtual void Save(dipwire::internal::EngineState* state) const = 0;

  // Takes the family's state from its part of `state`; the rule set must be
  // in empty state (fresh). DATA_LOSS, naming the entry, when that part holds
  // what Save could not have written (a duplicate identity, a name that is
  // not normalized, an unknown enum value, ...); the rule set may then hold
  // part of the state and is to be discarded.
  [[nodiscard]] virtual absl::Status Load(
      const dipwire::internal::EngineState& state) = 0;
};

// The three families. Names, meeting ids, reporters and process ids compare
// after NormalizeName (trimmed, case and runs of white space folded). Each
// family keeps, per identity, the newest reported_at applied to it; a report
// strictly older than that is stale (equal is not). State grows with the
// number of identities only.

// Meetings. Identity: the meeting_id when set; otherwise the sorted
// participant names and the UTC day of occurred_at.
//   - The first report of a meeting yields LEADER_MEETING_NEW, with
//     MeetingChange.status set.
//   - A later report yields LEADER_MEETING_UPDATED when the status, the city
//     or occurred_at changed, with all four MeetingChange fields (the previous
//     status, occurred_at and city, and the new status); otherwise nothing.
//   - An empty city means "not reported": it is no change, and the previous
//     city is kept. Cities compare after NormalizeName.
//   - Without a meeting_id the UTC day is part of the identity (another day
//     is another meeting), so occurred_at counts as changed only with an id;
//     a different time of day on an id-less meeting is recorded silently.
// Severity HIGH when a participant is HEAD_OF_STATE or HEAD_OF_GOVERNMENT,
// else MEDIUM. Headlines:
//   New meeting: Sergei Lavrov (RUS) and Wang Yi (CHN) in Beijing, scheduled
//     2024-04-08
//   Meeting update: Vladimir Putin (RUS) and Xi Jinping (CHN) in Beijing now
//     held 2024-05-16 (was expected 2024-05-15)
// The place is the city, else the host country, else left out; the
// parenthesis names only what changed.
std::unique_ptr<RuleSet> NewMeetingRules();

// Trade figures. A series is the country pair, the flow and the reporter; a
// figure is one year of it. For TOTAL the pair is unordered; EXPORTS and
// IMPORTS keep the event's direction (CHN exports to RUS and RUS exports to
// CHN are different series). The earlier figures of a series are every
// year applied to it so far, a revised year replacing its value.
//   - A figure above every earlier figure (at least one, this year's previous
//     value included when revised) yields TRADE_RECORD (HIGH) with
//     TradeChange{previous_record_usd, previous_record_year} = the highest
//     earlier figure (the earliest year on a tie), and previous_value_usd
//     when the year is revised.
//   - Otherwise a new year or a changed value yields TRADE_UPDATE (LOW) with
//     previous_record_* = the series' highest figure before this one (unset
//     for a series' first figure) and previous_value_usd when revised.
//   - The same value again yields nothing.
// Headlines:
//   Trade record: CHN–RUS total trade $240.1B in 2023 (previous high $190.3B
//     in 2022)
//   Trade update: CHN–USA total trade $664.5B in 2023 (was $690.6B)
//   Trade update: CHN–USA total trade $500.2B in 2024 (high $690.6B in 2022)
//   Trade update: CHN exports to RUS $110.0B in 2023   (a series' first)
std::unique_ptr<RuleSet> NewTradeRules();

// Peace talks. Identity: the process_id. A status other than the last known
// (none known counts as other) yields PEACE_TALK_STATUS_CHANGED with
// PeaceTalkChange{previous_status (STATUS_UNSPECIFIED when none), status};
// the same status yields nothing. Severity HIGH for AGREED, REJECTED and
// COLLAPSED, else MEDIUM. Headlines use the title, else the process_id, and
// the venue when set:
//   Peace talks: Ukraine peace summit (CHE) scheduled
//   Peace talks: Ukraine peace summit (CHE) now rejected (was scheduled)
std::unique_ptr<RuleSet> NewPeaceTalkRules();

// Applies events in log order to the three families' rule sets and names the
// alerts they yield: the k-th alert (0-based) of the event at sequence n has
// the id AlertId(n, k).
//
// Snapshots. SaveState serializes the rule sets' state as a
// dipwire.internal.EngineState (proto/dipwire/internal/engine_state.proto):
// a version (kStateVersion), then per family one message per identity with
// all the rules remember of it: a meeting's status, occurred_at, city and
// newest reported_at; a trade series' every year's value and newest
// reported_at; a peace process's status and newest reported_at. Lists are
// sorted by identity and serialized deterministically, so the bytes are a
// function of the state (hence of the log applied). Last comes a checksum
// (64-bit FNV-1a of the bytes before it), so that a snapshot cut short, even
// between two entries, or altered is refused. Alert ids need no state: they
// derive from the sequence of the event applied. So the snapshot does not
// hold the sequence it was taken at; whoever stores it stores that too, and
// applies only later entries to the engine that loads it.
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
  // returns the alerts it yields, in order, with alert_id set and cursor
  // left empty. `entry.event` is borrowed for the call only; an entry without
  // an event, or whose event has no kind, yields nothing. Never blocks and
  // never reads a clock.
  std::vector<v1::Alert> Apply(const LogEntry& entry);

  // The version SaveState writes, the only one LoadState reads.
  static constexpr uint32_t kStateVersion = 1;

  // The engine's whole state (every rule set's identities and what they
  // remember), serialized: what a fresh engine needs, given to LoadState, to
  // derive from the next event exactly what this one would. Deterministic:
  // equal states give equal bytes.
  std::string SaveState() const;
  // Replaces this engine's state with one SaveState produced. On error
  // (INVALID_ARGUMENT / DATA_LOSS naming what is wrong) the engine is left
  // as it was. DATA_LOSS "engine snapshot: ..." when `state` is not a
  // snapshot (garbage, truncated, no version) or holds what SaveState could
  // not have written; INVALID_ARGUMENT naming the version when the snapshot
  // is of a version other than kStateVersion. Never blocks.
  absl::Status LoadState(absl::string_view state);

  // `state` serialized as SaveState writes it (deterministically, the
  // checksum appended), whatever it holds: lets tests and the fuzzer build
  // snapshots with chosen contents. `state.checksum` is ignored.
  static std::string SealStateForTesting(
      const dipwire::internal::EngineState& state);

  // The stable id of the k-th alert of the event at `sequence`:
  // "al-<sequence>-<k>", e.g. "al-12-0".
  static std::string AlertId(uint64_t sequence, int k);

 private:
  std::vector<std::unique_ptr<RuleSet>> rule_sets_;
};

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_ALERT_ENGINE_H_
