#include "common/event_validation.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "common/utf8.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/timestamp.pb.h"

namespace dipwire {
namespace {

using ::dipwire::v1::Actor;
using ::dipwire::v1::Coverage;
using ::dipwire::v1::DiplomaticEvent;
using ::dipwire::v1::LeaderMeeting;
using ::dipwire::v1::PeaceTalkUpdate;
using ::dipwire::v1::PublishRequest;
using ::dipwire::v1::TradeFigure;

constexpr size_t kMaxEventIdLength = 128;
// Longest prefix of an offending value that a message quotes.
constexpr size_t kMaxQuotedBytes = 64;
constexpr int kMinYear = 1900;
constexpr int kMaxYear = 2100;
// google.protobuf.Timestamp's own range: 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59.999999999Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;
constexpr int32_t kMaxNanos = 999999999;
constexpr absl::Duration kMaxReportedAhead = absl::Hours(24);
// Coverage: the Goldstein scale's and the average tone's ranges (GDELT 2.0
// Event Codebook).
constexpr double kMaxGoldstein = 10.0;
constexpr double kMaxAvgTone = 100.0;
// Up to this many events, duplicate ids are found by comparing every pair,
// which needs no memory; larger batches sort an index instead.
constexpr int kPairwiseDuplicateLimit = 64;

constexpr absl::string_view kCountryExpected =
    "an ISO 3166-1 alpha-3 country code such as \"RUS\"";

// Plain comparisons rather than a regex: this runs for every ingested event.
constexpr bool IsEventIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-';
}

bool IsBlank(absl::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return absl::ascii_isspace(c); });
}

// `value` quoted for a message: escaped so that a message stays on one line,
// and cut (at a UTF-8 character boundary) when long.
std::string Quote(absl::string_view value) {
  absl::string_view shown = value;
  const bool cut = shown.size() > kMaxQuotedBytes;
  if (cut) {
    size_t end = kMaxQuotedBytes;
    // Back off over UTF-8 continuation bytes (10xxxxxx).
    while (end > 0 && IsUtf8Continuation(value[end])) {
      --end;
    }
    shown = value.substr(0, end);
  }
  return absl::StrCat("\"", absl::Utf8SafeCHexEscape(shown),
                      cut ? "\"..." : "\"");
}

// RFC 3339 in UTC with a "Z", as protobuf's JSON mapping writes timestamps.
std::string FormatTimestamp(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

// The non-zero values of an enum, for messages: "one of A, B or C".
std::string EnumChoices(const google::protobuf::EnumDescriptor* descriptor) {
  std::vector<absl::string_view> names;
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* value = descriptor->value(i);
    if (value->number() != 0) names.emplace_back(value->name());
  }
  std::string choices = "one of ";
  for (size_t i = 0; i < names.size(); ++i) {
    const char* separator = i == 0 ? "" : i + 1 == names.size() ? " or " : ", ";
    absl::StrAppend(&choices, separator, names[i]);
  }
  return choices;
}

// A field's path relative to the event, e.g. "trade.year", or
// "meeting.participants[3].country" as {"meeting.participants", 3,
// ".country"}. Kept in pieces so that the string is built only when a message
// needs it.
struct Field {
  // Implicit, so that a literal name can be passed where a Field is expected.
  Field(const char* name) : head(name) {}  // NOLINT
  Field(absl::string_view head_in, int index_in, absl::string_view tail_in)
      : head(head_in), index(index_in), tail(tail_in) {}

  absl::string_view head;
  int index = -1;  // -1: no index
  absl::string_view tail;
};

// Which event a message is about. Errors are built only on the failure path;
// the success path allocates nothing.
class EventContext {
 public:
  // `path` must outlive the context.
  explicit EventContext(absl::string_view path) : path_(path) {}

  // Shows `event_id` in later messages; call once it is known to be valid.
  // `event_id` must outlive the context.
  void set_event_id(absl::string_view event_id) { event_id_ = event_id; }

  // INVALID_ARGUMENT: <path> (event_id "<id>"): <path>.<field>: <detail>
  template <typename... Detail>
  absl::Status Error(const Field& field, const Detail&... detail) const {
    std::string message(path_.empty() ? "event" : path_);
    if (!event_id_.empty()) {
      absl::StrAppend(&message, " (event_id ", Quote(event_id_), ")");
    }
    absl::StrAppend(&message, ": ", path_, path_.empty() ? "" : ".",
                    field.head);
    if (field.index >= 0) absl::StrAppend(&message, "[", field.index, "]");
    absl::StrAppend(&message, field.tail, ": ", detail...);
    return absl::InvalidArgumentError(message);
  }

 private:
  const absl::string_view path_;
  absl::string_view event_id_;
};

absl::Status CheckEventId(const EventContext& ctx, absl::string_view id) {
  if (id.empty()) {
    return ctx.Error("event_id", "required (1 to ", kMaxEventIdLength,
                     " characters of [A-Za-z0-9._:-])");
  }
  if (id.size() > kMaxEventIdLength) {
    return ctx.Error("event_id", Quote(id), " is ", id.size(),
                     " characters long; at most ", kMaxEventIdLength,
                     " are allowed");
  }
  for (size_t i = 0; i < id.size(); ++i) {
    if (!IsEventIdChar(id[i])) {
      // A lone byte of a multi-byte character would make the message invalid
      // UTF-8, which a proto string field (RequestError.message) rejects.
      const bool ascii = static_cast<unsigned char>(id[i]) < 0x80;
      return ctx.Error("event_id", Quote(id), " has ",
                       ascii ? Quote(id.substr(i, 1)) : "a non-ASCII character",
                       " at offset ", i, "; only [A-Za-z0-9._:-] are allowed");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckTimestamp(const EventContext& ctx, absl::string_view field,
                            const google::protobuf::Timestamp& ts) {
  if (ts.seconds() < kMinTimestampSeconds ||
      ts.seconds() > kMaxTimestampSeconds) {
    return ctx.Error(Field(field, -1, ".seconds"), ts.seconds(),
                     " is outside 0001-01-01..9999-12-31 (",
                     kMinTimestampSeconds, "..", kMaxTimestampSeconds, ")");
  }
  if (ts.nanos() < 0 || ts.nanos() > kMaxNanos) {
    return ctx.Error(Field(field, -1, ".nanos"), ts.nanos(), " is not in 0..",
                     kMaxNanos);
  }
  return absl::OkStatus();
}

absl::Time ToTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// occurred_at (required) and reported_at (optional, at most a day after
// `now`).
absl::Status CheckTimes(const EventContext& ctx, const DiplomaticEvent& event,
                        absl::Time now) {
  if (!event.has_occurred_at()) {
    return ctx.Error("occurred_at",
                     "required (when the event happened or is scheduled to)");
  }
  DIPWIRE_RETURN_IF_ERROR(
      CheckTimestamp(ctx, "occurred_at", event.occurred_at()));
  if (!event.has_reported_at()) return absl::OkStatus();
  DIPWIRE_RETURN_IF_ERROR(
      CheckTimestamp(ctx, "reported_at", event.reported_at()));
  const absl::Time reported_at = ToTime(event.reported_at());
  if (reported_at > now + kMaxReportedAhead) {
    return ctx.Error("reported_at", FormatTimestamp(reported_at),
                     " is more than 1 day after the server's time (",
                     FormatTimestamp(now), ")");
  }
  return absl::OkStatus();
}

// A text field of at most `max` characters; `flag` is the server flag that
// sets `max`, which the message names.
absl::Status CheckLength(const EventContext& ctx, const Field& field,
                         absl::string_view value, size_t max,
                         absl::string_view flag) {
  // Never more characters than bytes: the common case needs no count.
  if (value.size() <= max) return absl::OkStatus();
  const size_t length = CountCharacters(value);
  if (length <= max) return absl::OkStatus();
  return ctx.Error(field, Quote(value), " is ", length,
                   " characters long; at most ", max, " are allowed (", flag,
                   "=", max, ")");
}

absl::Status CheckFieldLength(const EventContext& ctx, const Field& field,
                              absl::string_view value,
                              const EventLimits& limits) {
  return CheckLength(ctx, field, value, limits.max_field_length,
                     "--max-field-length");
}

absl::Status CheckSummaryLength(const EventContext& ctx, const Field& field,
                                absl::string_view value,
                                const EventLimits& limits) {
  return CheckLength(ctx, field, value, limits.max_summary_length,
                     "--max-summary-length");
}

// A required free-text field: not empty and not only white space.
absl::Status CheckRequiredText(const EventContext& ctx, const Field& field,
                               absl::string_view value,
                               absl::string_view what) {
  if (value.empty()) return ctx.Error(field, "required (", what, ")");
  if (IsBlank(value)) {
    return ctx.Error(field, Quote(value), " is blank; required (", what, ")");
  }
  return absl::OkStatus();
}

// A required free-text field (see CheckRequiredText) of at most
// limits.max_field_length characters.
absl::Status CheckRequiredField(const EventContext& ctx, const Field& field,
                                absl::string_view value, absl::string_view what,
                                const EventLimits& limits) {
  DIPWIRE_RETURN_IF_ERROR(CheckRequiredText(ctx, field, value, what));
  return CheckFieldLength(ctx, field, value, limits);
}

// A country field. `required` false means "" is accepted (unset).
absl::Status CheckCountry(const EventContext& ctx, const Field& field,
                          absl::string_view value, bool required) {
  if (value.empty()) {
    if (!required) return absl::OkStatus();
    return ctx.Error(field, "required (", kCountryExpected, ")");
  }
  if (IsCountryCode(value)) return absl::OkStatus();
  // A lower-case code is a common slip; say what was probably meant.
  std::string hint;
  if (value.size() == 3) {
    const std::string upper = absl::AsciiStrToUpper(value);
    if (upper != value && IsCountryCode(upper)) {
      hint = absl::StrCat(" (did you mean \"", upper, "\"?)");
    }
  }
  return ctx.Error(field, Quote(value),
                   " is not an ISO 3166-1 alpha-3 country code", hint);
}

// An enum field: a known value, and not the *_UNSPECIFIED zero unless
// `allow_unset`.
absl::Status CheckEnum(const EventContext& ctx, const Field& field, int value,
                       bool (*is_valid)(int),
                       const google::protobuf::EnumDescriptor* descriptor,
                       bool allow_unset) {
  if (value == 0) {
    if (allow_unset) return absl::OkStatus();
    return ctx.Error(field, "required (", EnumChoices(descriptor), ")");
  }
  if (!is_valid(value)) {
    return ctx.Error(field, value, " is not a known value (",
                     EnumChoices(descriptor), ")");
  }
  return absl::OkStatus();
}

absl::Status CheckCameoCode(const EventContext& ctx, absl::string_view code) {
  if (code.empty()) return absl::OkStatus();
  const bool digits = std::all_of(code.begin(), code.end(),
                                  [](char c) { return c >= '0' && c <= '9'; });
  if (code.size() < 2 || code.size() > 4 || !digits) {
    return ctx.Error(
        "cameo_code", Quote(code),
        " is not a CAMEO event code (2 to 4 digits, e.g. \"042\")");
  }
  return absl::OkStatus();
}

// A measure in -max..max: a finite number (NaN and infinities are not
// measurements, and compare false with everything).
absl::Status CheckMeasure(const EventContext& ctx, const char* field,
                          double value, double max, absl::string_view what) {
  if (std::isfinite(value) && value >= -max && value <= max) {
    return absl::OkStatus();
  }
  return ctx.Error(field, value, " is not in ", -max, "..", max, " (", what,
                   ")");
}

// A count, >= 0.
absl::Status CheckCount(const EventContext& ctx, const char* field,
                        int32_t value) {
  if (value >= 0) return absl::OkStatus();
  return ctx.Error(field, value, " is negative (a count, 0 or more)");
}

// coverage (optional): counts >= 0, the Goldstein scale in -10..10 and the
// average tone in -100..100.
absl::Status CheckCoverage(const EventContext& ctx, const Coverage& c) {
  DIPWIRE_RETURN_IF_ERROR(
      CheckCount(ctx, "coverage.num_mentions", c.num_mentions()));
  DIPWIRE_RETURN_IF_ERROR(
      CheckCount(ctx, "coverage.num_sources", c.num_sources()));
  DIPWIRE_RETURN_IF_ERROR(
      CheckCount(ctx, "coverage.num_articles", c.num_articles()));
  DIPWIRE_RETURN_IF_ERROR(CheckMeasure(ctx, "coverage.goldstein_scale",
                                       c.goldstein_scale(), kMaxGoldstein,
                                       "the Goldstein scale"));
  return CheckMeasure(ctx, "coverage.avg_tone", c.avg_tone(), kMaxAvgTone,
                      "the average tone of the coverage");
}

// meeting.topics: free text, each of at most limits.max_field_length
// characters.
absl::Status CheckTopics(const EventContext& ctx, const LeaderMeeting& m,
                         const EventLimits& limits) {
  for (int i = 0; i < m.topics_size(); ++i) {
    DIPWIRE_RETURN_IF_ERROR(CheckFieldLength(
        ctx, Field("meeting.topics", i, ""), m.topics(i), limits));
  }
  return absl::OkStatus();
}

// meeting.participants[i].
absl::Status CheckParticipant(const EventContext& ctx, int i,
                              const Actor& actor, const EventLimits& limits) {
  DIPWIRE_RETURN_IF_ERROR(
      CheckRequiredField(ctx, Field("meeting.participants", i, ".name"),
                         actor.name(), "the person's name", limits));
  DIPWIRE_RETURN_IF_ERROR(
      CheckCountry(ctx, Field("meeting.participants", i, ".country"),
                   actor.country(), /*required=*/true));
  // Unset counts as OTHER.
  return CheckEnum(ctx, Field("meeting.participants", i, ".role"), actor.role(),
                   &v1::Actor_Role_IsValid, v1::Actor_Role_descriptor(),
                   /*allow_unset=*/true);
}

absl::Status CheckMeeting(const EventContext& ctx, const LeaderMeeting& m,
                          const EventLimits& limits) {
  // meeting_id is optional and free-form.
  DIPWIRE_RETURN_IF_ERROR(
      CheckFieldLength(ctx, "meeting.meeting_id", m.meeting_id(), limits));
  if (m.participants_size() < 2) {
    return ctx.Error(
        "meeting.participants", m.participants_size(),
        m.participants_size() == 1 ? " participant" : " participants",
        "; a meeting needs at least 2");
  }
  for (int i = 0; i < m.participants_size(); ++i) {
    DIPWIRE_RETURN_IF_ERROR(
        CheckParticipant(ctx, i, m.participants(i), limits));
  }
  DIPWIRE_RETURN_IF_ERROR(CheckCountry(ctx, "meeting.host_country",
                                       m.host_country(), /*required=*/false));
  // city and topics are free text.
  DIPWIRE_RETURN_IF_ERROR(
      CheckFieldLength(ctx, "meeting.city", m.city(), limits));
  DIPWIRE_RETURN_IF_ERROR(CheckEnum(ctx, "meeting.status", m.status(),
                                    &v1::LeaderMeeting_Status_IsValid,
                                    v1::LeaderMeeting_Status_descriptor(),
                                    /*allow_unset=*/false));
  return CheckTopics(ctx, m, limits);
}

absl::Status CheckTrade(const EventContext& ctx, const TradeFigure& t,
                        const EventLimits& limits) {
  DIPWIRE_RETURN_IF_ERROR(
      CheckCountry(ctx, "trade.country_a", t.country_a(), /*required=*/true));
  DIPWIRE_RETURN_IF_ERROR(
      CheckCountry(ctx, "trade.country_b", t.country_b(), /*required=*/true));
  if (t.country_a() == t.country_b()) {
    return ctx.Error("trade.country_b", Quote(t.country_b()),
                     " is also country_a; a trade figure is between two "
                     "different countries");
  }
  if (t.year() == 0) {
    return ctx.Error("trade.year", "required (a year in ", kMinYear, "..",
                     kMaxYear, ")");
  }
  if (t.year() < kMinYear || t.year() > kMaxYear) {
    return ctx.Error("trade.year", t.year(), " is not in ", kMinYear, "..",
                     kMaxYear);
  }
  if (t.value_usd() == 0) {
    return ctx.Error("trade.value_usd",
                     "required (whole US dollars, greater than 0)");
  }
  if (t.value_usd() < 0) {
    return ctx.Error("trade.value_usd", t.value_usd(),
                     " is not greater than 0 (whole US dollars)");
  }
  DIPWIRE_RETURN_IF_ERROR(CheckEnum(ctx, "trade.flow", t.flow(),
                                    &v1::TradeFigure_Flow_IsValid,
                                    v1::TradeFigure_Flow_descriptor(),
                                    /*allow_unset=*/false));
  return CheckRequiredField(ctx, "trade.reporter", t.reporter(),
                            "the statistical source, e.g. \"China customs\"",
                            limits);
}

absl::Status CheckPeaceTalk(const EventContext& ctx, const PeaceTalkUpdate& p,
                            const EventLimits& limits) {
  DIPWIRE_RETURN_IF_ERROR(CheckRequiredField(
      ctx, "peace_talk.process_id", p.process_id(),
      "the publisher's stable name for the peace process", limits));
  // title is free text.
  DIPWIRE_RETURN_IF_ERROR(
      CheckFieldLength(ctx, "peace_talk.title", p.title(), limits));
  DIPWIRE_RETURN_IF_ERROR(CheckEnum(ctx, "peace_talk.status", p.status(),
                                    &v1::PeaceTalkUpdate_Status_IsValid,
                                    v1::PeaceTalkUpdate_Status_descriptor(),
                                    /*allow_unset=*/false));
  for (int i = 0; i < p.parties_size(); ++i) {
    DIPWIRE_RETURN_IF_ERROR(CheckCountry(ctx,
                                         Field("peace_talk.parties", i, ""),
                                         p.parties(i), /*required=*/true));
  }
  DIPWIRE_RETURN_IF_ERROR(CheckCountry(ctx, "peace_talk.venue_country",
                                       p.venue_country(),
                                       /*required=*/false));
  // detail is free text, prose like the summary.
  return CheckSummaryLength(ctx, "peace_talk.detail", p.detail(), limits);
}

// Finds the first event (in index order) whose event_id an earlier event of
// the batch already has. On success sets *first and *second to the two
// indexes and returns true.
bool FindRepeatedEventId(const PublishRequest& request, int* first,
                         int* second) {
  const int n = request.events_size();
  if (n <= kPairwiseDuplicateLimit) {
    for (int j = 1; j < n; ++j) {
      const std::string& id = request.events(j).event_id();
      for (int i = 0; i < j; ++i) {
        if (request.events(i).event_id() == id) {
          *first = i;
          *second = j;
          return true;
        }
      }
    }
    return false;
  }
  // Sort indexes by id (stably, so each run of equal ids is in index order);
  // the answer is the run whose second member comes first.
  std::vector<int> order(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&request](int a, int b) {
    return request.events(a).event_id() < request.events(b).event_id();
  });
  bool found = false;
  for (size_t k = 1; k < order.size(); ++k) {
    const int a = order[k - 1];
    const int b = order[k];
    if (request.events(a).event_id() != request.events(b).event_id()) continue;
    // b is a's successor in the run; only the run's first pair matters.
    const bool run_start = k < 2 || request.events(order[k - 2]).event_id() !=
                                        request.events(a).event_id();
    if (run_start && (!found || b < *second)) {
      *first = a;
      *second = b;
      found = true;
    }
  }
  return found;
}

}  // namespace

absl::Status ValidateEvent(const DiplomaticEvent& event, absl::string_view path,
                           absl::Time now, const EventLimits& limits) {
  EventContext ctx(path);
  DIPWIRE_RETURN_IF_ERROR(CheckEventId(ctx, event.event_id()));
  ctx.set_event_id(event.event_id());

  DIPWIRE_RETURN_IF_ERROR(CheckTimes(ctx, event, now));
  DIPWIRE_RETURN_IF_ERROR(CheckRequiredField(
      ctx, "source.outlet", event.source().outlet(),
      "the outlet that reported the event, e.g. \"Reuters\"", limits));
  DIPWIRE_RETURN_IF_ERROR(
      CheckFieldLength(ctx, "source.url", event.source().url(), limits));
  DIPWIRE_RETURN_IF_ERROR(
      CheckSummaryLength(ctx, "summary", event.summary(), limits));
  DIPWIRE_RETURN_IF_ERROR(CheckCameoCode(ctx, event.cameo_code()));
  if (event.has_coverage()) {
    DIPWIRE_RETURN_IF_ERROR(CheckCoverage(ctx, event.coverage()));
  }

  switch (event.kind_case()) {
    case DiplomaticEvent::kMeeting:
      return CheckMeeting(ctx, event.meeting(), limits);
    case DiplomaticEvent::kTrade:
      return CheckTrade(ctx, event.trade(), limits);
    case DiplomaticEvent::kPeaceTalk:
      return CheckPeaceTalk(ctx, event.peace_talk(), limits);
    case DiplomaticEvent::KIND_NOT_SET:
      break;
  }
  return ctx.Error("kind",
                   "not set; set exactly one of meeting, trade or "
                   "peace_talk");
}

absl::Status ValidatePublishRequest(const PublishRequest& request,
                                    absl::Time now, const EventLimits& limits) {
  if (request.events().empty()) {
    return absl::InvalidArgumentError(
        "events: a publish request needs at least one event");
  }
  // Before any event is looked at: the size of the whole is the first thing
  // wrong with it, and a huge batch costs nothing more to refuse.
  if (request.events_size() > limits.max_batch_events) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "events: ", request.events_size(), " events in one request; at most ",
        limits.max_batch_events, " are allowed (--max-batch-events=",
        limits.max_batch_events, "); split the batch"));
  }
  int first = -1;
  int second = -1;
  const bool repeated = FindRepeatedEventId(request, &first, &second);
  for (int i = 0; i < request.events_size(); ++i) {
    const DiplomaticEvent& event = request.events(i);
    // Short enough for the small-string buffer: no heap allocation.
    const std::string path = absl::StrCat("events[", i, "]");
    // The size of the whole before its fields, as for the batch: an event
    // too large is refused as such, whatever else is wrong with it.
    if (const size_t size = event.ByteSizeLong();
        size > limits.max_event_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          path, " (event_id ", Quote(event.event_id()), "): the event is ",
          size, " bytes serialized; the limit is ", limits.max_event_bytes,
          " bytes (--max-event-bytes=", limits.max_event_bytes,
          "); shorten summary, detail or topics"));
    }
    DIPWIRE_RETURN_IF_ERROR(ValidateEvent(event, path, now, limits));
    // Reported at the second occurrence, after that event's own checks, so
    // that errors come in index order.
    if (repeated && i == second) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " (event_id ", Quote(event.event_id()),
                       "): event_id repeats events[", first,
                       "]; an event may appear once per batch"));
    }
  }
  return absl::OkStatus();
}

}  // namespace dipwire
