#ifndef DIPWIRE_SERVER_CURSOR_H_
#define DIPWIRE_SERVER_CURSOR_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dipwire::server {

// Cursors and page tokens: opaque strings for clients, positions for us.
//
// A cursor names a position in the alert log. It is stable across restarts
// (a pure function of the position) and carries a version and a check value,
// so that a mistyped or truncated cursor is rejected rather than
// misread. A page token additionally binds a position to the filter it was
// issued for. Pure functions; safe for concurrent use.

// Encodes alert log position `position` (>= 1) as a cursor.
std::string EncodeCursor(uint64_t position);

// Decodes a cursor. Returns INVALID_ARGUMENT, naming `what` (e.g.
// "after_cursor"), when `cursor` is not one EncodeCursor made.
absl::StatusOr<uint64_t> DecodeCursor(absl::string_view cursor,
                                      absl::string_view what = "cursor");

// The OUT_OF_RANGE error of a reader whose position lies before the oldest
// alert retention kept: `what` names the position ("after_cursor",
// "subscription \"x\""), and the message names the oldest cursor still
// available, EncodeCursor(trimmed_through), after which the oldest kept
// alert comes: resuming after it loses nothing more. `trimmed_through` is
// LogHead::alerts_trimmed_through (>= 1).
absl::Status AlertsTrimmedError(absl::string_view what,
                                uint64_t trimmed_through);

// Encodes a listing's resume position, bound to `filter`.
std::string EncodePageToken(uint64_t position, absl::string_view filter);

// Decodes a page token issued for `filter`. Returns INVALID_ARGUMENT when it
// is malformed or was issued for another filter.
absl::StatusOr<uint64_t> DecodePageToken(absl::string_view token,
                                         absl::string_view filter);

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_CURSOR_H_
