#include "server/limits.h"

#include <array>
#include <climits>
#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace dipwire::server {
namespace {

// The largest event the flag allows: an alert carries its event plus a
// little, and one SubscribeResponse must stay under 1 MiB (DESIGN.md).
constexpr int64_t kEventBytesCeiling = int64_t{768} * 1024;
// The deepest filter nesting the flag allows: compiling recurses once per
// level, on gRPC and executor threads' ordinary stacks.
constexpr int64_t kFilterDepthCeiling = 256;
// Caps on the other limits: far beyond any use, but they keep the values in
// their types and the arithmetic on them from overflowing.
constexpr int64_t kLengthCeiling = int64_t{1} << 20;
constexpr int64_t kCountCeiling = 1'000'000;
constexpr int64_t kPendingCeiling = 100'000'000;

constexpr int64_t kPendingBytesCeiling = int64_t{64} << 30;

constexpr std::array<LimitFlag, 11> kLimitFlags = {{
    {"--max-message-bytes", "largest request message, in bytes", INT_MAX,
     [](const Limits& l) -> int64_t { return l.max_message_bytes; },
     [](Limits* l, int64_t v) { l->max_message_bytes = static_cast<int>(v); }},
    {"--max-batch-events", "events in one Publish or PublishStream request",
     kCountCeiling,
     [](const Limits& l) -> int64_t { return l.events.max_batch_events; },
     [](Limits* l, int64_t v) {
       l->events.max_batch_events = static_cast<int>(v);
     }},
    {"--max-event-bytes", "one event, serialized, in bytes", kEventBytesCeiling,
     [](const Limits& l) {
       return static_cast<int64_t>(l.events.max_event_bytes);
     },
     [](Limits* l, int64_t v) {
       l->events.max_event_bytes = static_cast<size_t>(v);
     }},
    {"--max-summary-length", "characters in summary and peace_talk.detail",
     kLengthCeiling,
     [](const Limits& l) {
       return static_cast<int64_t>(l.events.max_summary_length);
     },
     [](Limits* l, int64_t v) {
       l->events.max_summary_length = static_cast<size_t>(v);
     }},
    {"--max-field-length", "characters in any other text field of an event",
     kLengthCeiling,
     [](const Limits& l) {
       return static_cast<int64_t>(l.events.max_field_length);
     },
     [](Limits* l, int64_t v) {
       l->events.max_field_length = static_cast<size_t>(v);
     }},
    {"--max-filter-length", "characters in a filter", kLengthCeiling,
     [](const Limits& l) -> int64_t { return l.filter.max_length; },
     [](Limits* l, int64_t v) { l->filter.max_length = static_cast<int>(v); }},
    {"--max-filter-depth", "parenthesis nesting in a filter",
     kFilterDepthCeiling,
     [](const Limits& l) -> int64_t { return l.filter.max_depth; },
     [](Limits* l, int64_t v) { l->filter.max_depth = static_cast<int>(v); }},
    {"--max-streams", "Subscribe streams open at once", kCountCeiling,
     [](const Limits& l) -> int64_t { return l.max_streams; },
     [](Limits* l, int64_t v) { l->max_streams = static_cast<int>(v); }},
    {"--max-publish-streams", "PublishStream streams open at once",
     kCountCeiling,
     [](const Limits& l) -> int64_t { return l.max_publish_streams; },
     [](Limits* l, int64_t v) {
       l->max_publish_streams = static_cast<int>(v);
     }},
    {"--max-pending-events", "published events waiting to be committed",
     kPendingCeiling,
     [](const Limits& l) { return static_cast<int64_t>(l.max_pending_events); },
     [](Limits* l, int64_t v) {
       l->max_pending_events = static_cast<size_t>(v);
     }},
    {"--max-pending-bytes", "bytes of published events waiting to be committed",
     kPendingBytesCeiling,
     [](const Limits& l) { return static_cast<int64_t>(l.max_pending_bytes); },
     [](Limits* l, int64_t v) {
       l->max_pending_bytes = static_cast<size_t>(v);
     }},
}};

}  // namespace

absl::Span<const LimitFlag> LimitFlags() { return kLimitFlags; }

const LimitFlag* FindLimitFlag(absl::string_view name) {
  for (const LimitFlag& flag : kLimitFlags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

absl::Status SetLimitFlag(const LimitFlag& flag, absl::string_view value,
                          Limits* limits) {
  int64_t number = 0;
  // SimpleAtoi accepts surrounding white space and a '+'; a flag value with
  // them is still a plain number, so that is harmless.
  if (!absl::SimpleAtoi(value, &number) || number < 1 || number > flag.max) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag.name, ": \"", absl::CHexEscape(value),
                     "\" is not a whole number in 1..", flag.max));
  }
  flag.set(limits, number);
  return absl::OkStatus();
}

}  // namespace dipwire::server
