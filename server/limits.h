#ifndef DIPWIRE_SERVER_LIMITS_H_
#define DIPWIRE_SERVER_LIMITS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/event_validation.h"
#include "server/filter.h"

namespace dipwire::server {

// Every limit dipwired enforces, each set by a flag (LimitFlags below;
// README.md, "Limits", lists them with their codes). The defaults, here and
// in the structs this one holds, are the one source of truth: dipwired's
// usage text prints them from a default-constructed Limits.
//
// Status codes follow one rule. A request over a size limit of the whole
// (message bytes, events per batch, bytes of one event) is
// RESOURCE_EXHAUSTED, as DESIGN.md says ("message or batch over the limit");
// a field over its length limit (a summary, a name, a filter's length or
// nesting) is INVALID_ARGUMENT naming the field, like any other bad value;
// the server out of capacity is worth retrying unchanged: too many streams
// is RESOURCE_EXHAUSTED, a full publish queue UNAVAILABLE (transient, like
// a server shutting down, and what ingest tools already retry). Every message
// names the flag and its value, e.g. "(--max-streams=1000)".
//
// The defaults suit a newsroom's server: far above what its tools send
// (one event to a few hundred per batch, filters of a line or two, dozens
// of desks and dashboards subscribed), while bounding what one careless or
// hostile client can make the server hold.
struct Limits {
  // Largest request message gRPC accepts, in bytes (gRPC's own default,
  // 4 MiB: a batch of a thousand typical events fits four times over).
  // gRPC answers a larger one itself with RESOURCE_EXHAUSTED ("Received
  // message larger than max (N vs. M)"); on PublishStream that ends the
  // stream.
  int max_message_bytes = 4 * 1024 * 1024;
  // Events per batch, bytes per event, and text field lengths.
  EventLimits events;
  // Filter length and nesting (Subscribe, ListAlerts, ListEvents).
  FilterLimits filter;
  // Subscribe streams open at once. Each costs a cursor and at most one
  // response (up to 512 KiB) in memory; a thousand is far more desks,
  // dashboards and sinks than a newsroom runs, and bounds that memory.
  int max_streams = 1000;
  // PublishStream streams open at once. Each costs gRPC's buffers and one
  // request in memory; a newsroom runs a handful of ingest scripts, and an
  // ingest bug that opens streams in a loop must not take the memory.
  int max_publish_streams = 100;
  // Events accepted by Publish and PublishStream but not yet taken by the
  // writer (the publish queue). 100,000 is many seconds of peak ingest and
  // room for dozens of PublishStream callers with full windows; beyond it a
  // request is refused at once rather than queued without bound.
  size_t max_pending_events = 100000;
  // Bytes of those events (serialized) at most: 100,000 events may be tiny
  // or 256 KiB each, so the count alone does not bound the memory they
  // hold. 256 MiB is a thousand maximum-size events.
  size_t max_pending_bytes = size_t{256} << 20;
};

// A dipwired flag that sets one limit: `--name N`, N a whole number in
// 1..max.
struct LimitFlag {
  absl::string_view name;  // with the dashes: "--max-streams"
  absl::string_view help;  // one line for the usage text
  int64_t max;
  int64_t (*get)(const Limits& limits);
  void (*set)(Limits* limits, int64_t value);
};

// The limit flags, in the order the usage text lists them.
absl::Span<const LimitFlag> LimitFlags();

// The flag called `name` ("--max-streams"), or null.
const LimitFlag* FindLimitFlag(absl::string_view name);

// Parses `value` for `flag` into `limits`. INVALID_ARGUMENT, naming the flag
// and its range, when `value` is not a whole number in 1..flag.max:
//   --max-streams: "0" is not a whole number in 1..1000000
absl::Status SetLimitFlag(const LimitFlag& flag, absl::string_view value,
                          Limits* limits);

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_LIMITS_H_
