#ifndef DIPWIRE_COMMON_PROTO_JSON_H_
#define DIPWIRE_COMMON_PROTO_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dipwire/v1/events.pb.h"
#include "google/protobuf/message.h"

namespace dipwire {

// Thin helpers over protobuf's proto3 JSON mapping
// (google::protobuf::util), shared by the CLI, the ingest tools and tests.
// Pure functions; safe for concurrent use.

// Parses one DiplomaticEvent from a JSON object, as in one line of a JSON
// lines file. Field names may be lowerCamelCase ("eventId") or the proto
// names ("event_id"); enums are given by name (or number); int64 values as a
// JSON string or number; timestamps as RFC 3339 strings.
//
// Returns INVALID_ARGUMENT when `line` is not a JSON object of that shape,
// including any unknown field. The message is protobuf's, reduced to one
// line, and names the offending field where protobuf does, e.g.
//   (meeting.participants[0]) nmae: Cannot find field.
// Does not validate the event against the API contract: see
// common/event_validation.h for that.
absl::StatusOr<v1::DiplomaticEvent> ParseEventJson(absl::string_view line);

// Prints `message` as proto3 JSON on a single line with no insignificant
// whitespace and no trailing newline, with lowerCamelCase field names, enums
// by name, int64 values as strings and default-valued fields omitted
// (protobuf's default JsonPrintOptions).
//
// Printing fails only for a well-known type holding an out-of-range value
// (e.g. a Timestamp before year 1); the result is then still one JSON
// object, {"jsonError":"<protobuf's message>"}, so that a stream of lines
// stays parseable.
std::string ToJsonLine(const google::protobuf::Message& message);

}  // namespace dipwire

#endif  // DIPWIRE_COMMON_PROTO_JSON_H_
