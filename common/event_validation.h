#ifndef DIPWIRE_COMMON_EVENT_VALIDATION_H_
#define DIPWIRE_COMMON_EVENT_VALIDATION_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dipwire/v1/alerts.pb.h"
#include "dipwire/v1/events.pb.h"

namespace dipwire {

// Validation of diplomatic events as publishers submit them (DESIGN.md, "API
// contract"). Shared by the server, which enforces it, and the clients, which
// use it for --dry-run checks. Pure functions; safe for concurrent use.

// The largest event accepted by default, serialized. It keeps every alert
// (an event plus a little) well under the 1 MiB bound of a SubscribeResponse,
// and a page of history within a client's default receive limit.
inline constexpr size_t kMaxEventBytes = size_t{256} * 1024;

// The size limits of what publishers submit. The defaults are the server's
// (dipwired's --max-batch-events, --max-event-bytes, --max-summary-length and
// --max-field-length; README.md, "Limits"), and every message about a limit
// names its flag and value, e.g. "(--max-field-length=2048)".
//
// Lengths count characters (UTF-8 code points, as the filter language's
// columns do), so that a summary in Russian or Chinese gets as much room as
// one in English; bytes are bounded by max_event_bytes.
struct EventLimits {
  // Events in one PublishRequest (Publish, or one PublishStream request).
  // A newsroom tool publishes one event or a few; an ingest script a few
  // hundred per batch. Beyond: RESOURCE_EXHAUSTED, like DESIGN.md's "batch
  // over the limit".
  int max_batch_events = 1000;
  // One event, serialized. Beyond: RESOURCE_EXHAUSTED.
  size_t max_event_bytes = kMaxEventBytes;
  // The prose fields: summary and peace_talk.detail. By default as many
  // characters as the event has bytes, so that only max_event_bytes binds:
  // publishers put whole article texts there, and the event's size already
  // bounds what one costs. A server that wants real summaries (a few hundred
  // characters) sets it lower. Beyond: INVALID_ARGUMENT naming the field.
  size_t max_summary_length = kMaxEventBytes;
  // Every other free-text field: source.outlet and source.url, meeting_id,
  // participant names, city, topics, trade.reporter, peace_talk.process_id
  // and title. 2,048 characters hold any name or title and the longest URL
  // browsers reliably handle. (event_id, countries and cameo_code have their
  // own fixed shapes.) Beyond: INVALID_ARGUMENT naming the field.
  size_t max_field_length = 2048;
};

// Checks one event. `path` is the event's own field path ("events[1]"); every
// message names it, the event_id when there is one, and the offending field's
// full path, e.g.
//   events[1] (event_id "tass-0412"):
//   events[1].meeting.participants[0].country: "RU" is not an ISO 3166-1
//   alpha-3 country code
// When the event_id itself is missing or malformed, the parenthesis is left
// out (the event_id message quotes the raw value). With an empty `path` the
// message starts with "event" and field paths are relative to the event.
// Offending strings are quoted, escaped and, past 64 bytes, shortened, so a
// message is one line (and valid UTF-8 when the event's strings are).
// `now` is the ingest time: reported_at may be at most one day after it.
// coverage, when set, needs counts of 0 or more, goldstein_scale in
// -10..10 and avg_tone in -100..100 (finite numbers).
// Text fields are checked against `limits`' lengths (not its batch or byte
// limits, which ValidatePublishRequest applies).
// Returns OK, or INVALID_ARGUMENT describing the first failing check in field
// order. Allocates only to build that message.
absl::Status ValidateEvent(const v1::DiplomaticEvent& event,
                           absl::string_view path, absl::Time now,
                           const EventLimits& limits = EventLimits());

// Checks a whole batch: at least one event and at most
// limits.max_batch_events, every event at most limits.max_event_bytes
// serialized and valid (checked as ValidateEvent with path "events[i]"), and
// no event_id twice. Returns OK, or INVALID_ARGUMENT for the first problem in
// index order, except RESOURCE_EXHAUSTED for a batch or an event over its
// size limit (checked first, the batch's before any event's and an event's
// before its fields):
//   events: 1001 events in one request; at most 1000 are allowed
//   (--max-batch-events=1000); split the batch
// A repeated event_id is reported at its second occurrence and names both
// indexes:
//   events[3] (event_id "x"): event_id repeats events[1]; an event may appear
//   once per batch
absl::Status ValidatePublishRequest(const v1::PublishRequest& request,
                                    absl::Time now,
                                    const EventLimits& limits = EventLimits());

// True when `code` is an ISO 3166-1 alpha-3 code of Debian's iso-codes, or
// XKX (Kosovo). Case-sensitive: "rus" is not a code.
bool IsCountryCode(absl::string_view code);

}  // namespace dipwire

#endif  // DIPWIRE_COMMON_EVENT_VALIDATION_H_
