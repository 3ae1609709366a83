#ifndef DIPWIRE_COMMON_EVENT_VALIDATION_H_
#define DIPWIRE_COMMON_EVENT_VALIDATION_H_

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
//   events[1] (event_id "tass-0412"): events[1].meeting.participants[0].country:
//   "RU" is not an ISO 3166-1 alpha-3 country code
// `now` is the ingest time: reported_at may be at most one day after it.
// Returns OK or INVALID_ARGUMENT.
absl::Status ValidateEvent(const v1::DiplomaticEvent& event,
                           absl::string_view path, absl::Time now);

// Checks a whole batch: at least one event, every event valid (the first
// invalid one is reported), and no event_id twice (the message names both
// indexes). Returns OK or INVALID_ARGUMENT.
absl::Status ValidatePublishRequest(const v1::PublishRequest& request,
                                    absl::Time now);

// True when `code` is an ISO 3166-1 alpha-3 code of Debian's iso-codes, or
// XKX (Kosovo). Case-sensitive: "rus" is not a code.
bool IsCountryCode(absl::string_view code);

}  // namespace dipwire

#endif  // DIPWIRE_COMMON_EVENT_VALIDATION_H_
