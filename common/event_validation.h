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
// Returns OK, or INVALID_ARGUMENT describing the first failing check in field
// order. Allocates only to build that message.
absl::Status ValidateEvent(const v1::DiplomaticEvent& event,
                           absl::string_view path, absl::Time now);

// The largest event accepted, serialized. It keeps every alert (an event
// plus a little) well under the 1 MiB bound of a SubscribeResponse, and a
// page of history within a client's default receive limit.
inline constexpr size_t kMaxEventBytes = size_t{256} * 1024;

// Checks a whole batch: at least one event, every event valid (checked as
// ValidateEvent with path "events[i]") and at most kMaxEventBytes, and no
// event_id twice. Returns OK, or INVALID_ARGUMENT (RESOURCE_EXHAUSTED for an
// event over the size limit) for the first problem in index order; a
// repeated event_id
// is reported at its second occurrence and names both indexes:
//   events[3] (event_id "x"): event_id repeats events[1]; an event may appear
//   once per batch
absl::Status ValidatePublishRequest(const v1::PublishRequest& request,
                                    absl::Time now);

// True when `code` is an ISO 3166-1 alpha-3 code of Debian's iso-codes, or
// XKX (Kosovo). Case-sensitive: "rus" is not a code.
bool IsCountryCode(absl::string_view code);

}  // namespace dipwire

#endif  // DIPWIRE_COMMON_EVENT_VALIDATION_H_
