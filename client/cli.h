#ifndef DIPWIRE_CLIENT_CLI_H_
#define DIPWIRE_CLIENT_CLI_H_

#include <cstdint>
#include <iosfwd>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dipwire/v1/alerts.pb.h"
#include "dipwire/v1/events.pb.h"

namespace dipwire::client {

// The `dipwire` command line tool as a library, so that tests can run it in
// process. client/main.cc calls RunCli with the process's standard streams.

// Runs the command in `argv` (argv[0] is the program name; `dipwire help`
// lists the commands and flags). Reads `in` for `publish -`, writes results
// to `out` (flushed after each line of a subscription) and diagnostics to
// `err`. Returns the exit status: 0 on success; 1 when the command failed
// (an event was rejected, the server returned an error or is unreachable);
// 2 for a usage error (unknown command or flag, bad flag value).
//
// Blocks until the command is done; `subscribe` runs until the stream ends,
// `--limit` alerts were printed, or InterruptCli is called. Safe to call
// from several threads at once, but only one running `subscribe` at a time
// is interruptible.
int RunCli(int argc, char** argv, std::istream& in, std::ostream& out,
           std::ostream& err);

// Ends the running `subscribe` command of this process, if there is one, as
// Ctrl-C should: its RunCli returns 0 promptly. Returns true if a
// `subscribe` command was running (or starting), false otherwise (the caller
// then ends the process its own way). Thread-safe; not async-signal-safe:
// call it from an ordinary thread (e.g. one waiting in sigwait).
bool InterruptCli();

// Parses the value of `subscribe --from` into a SubscribeRequest with only
// its `start` set: "earliest" / "latest" (any case) set `position`; an
// RFC 3339 time with an offset ("2024-04-01T09:00:00Z",
// "2024-04-01T12:00:00+03:00") sets `start_time`; anything else is taken as
// a cursor for `after_cursor`, which the server validates. Returns
// INVALID_ARGUMENT for an empty value or a time outside 0001..9999.
absl::StatusOr<v1::SubscribeRequest> ParseFrom(absl::string_view from);

// One alert as a line of text, without a newline:
//   <created_at, RFC 3339 UTC, whole seconds> <severity, padded to 6>
//   <type> <headline>
// e.g. "2024-04-01T09:00:00Z HIGH   TRADE_RECORD Trade record: ...". Line
// breaks in the headline become spaces.
std::string FormatAlertLine(const v1::Alert& alert);

// One event as a line of text, without a newline:
//   seq=<sequence> <event_id> <kind> <occurred_at UTC date> <description>
// where the description is the event's summary or, without one, a short
// description built from its fields, e.g.
//   seq=3 cn-customs-2023 trade 2023-12-31 CHN-RUS TOTAL 2023: $240,100,000,000
//   (China customs)
std::string FormatEventLine(const v1::DiplomaticEvent& event,
                            uint64_t sequence);

}  // namespace dipwire::client

#endif  // DIPWIRE_CLIENT_CLI_H_
