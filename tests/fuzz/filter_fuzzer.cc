// libFuzzer target for the filter language (server/filter.h). Each input is
// compiled as an alert filter and as an event filter. A filter that compiles
// is evaluated against a few fixed alerts and events, which must not crash; a
// filter that does not compile must fail with INVALID_ARGUMENT naming a
// column.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "dipwire/v1/alerts.pb.h"
#include "dipwire/v1/events.pb.h"
#include "google/protobuf/text_format.h"
#include "server/filter.h"
#include "tests/fuzz/fuzz_checks.h"

namespace dipwire::server {
namespace {

// One alert of each kind, as the engine makes them, and an empty one: every
// field a filter can name is set in one of them and unset in another.
constexpr std::array<absl::string_view, 4> kAlerts = {
    R"pb(
      alert_id: "a-1"
      type: LEADER_MEETING_NEW
      severity: HIGH
      headline: "Meeting: Vladimir Putin and Xi Jinping expected in China"
      countries: [ "CHN", "RUS" ]
      event {
        event_id: "seed-putin-xi-china-2024-05"
        source { outlet: "Reuters" }
        meeting {
          participants {
            name: "Vladimir Putin"
            country: "RUS"
            role: HEAD_OF_STATE
          }
          participants { name: "Xi Jinping" country: "CHN" role: HEAD_OF_STATE }
          host_country: "CHN"
          status: EXPECTED
          topics: [ "Ukraine", "energy" ]
        }
      }
    )pb",
    R"pb(
      alert_id: "a-2"
      type: TRADE_RECORD
      severity: HIGH
      headline: "Trade record: China–Russia 2023 $240.1B"
      countries: [ "CHN", "RUS" ]
      event {
        event_id: "seed-trade-chn-rus-2023"
        source { outlet: "China customs" }
        trade {
          country_a: "CHN"
          country_b: "RUS"
          year: 2023
          value_usd: 240100000000
          flow: TOTAL
          reporter: "China customs"
        }
      }
    )pb",
    R"pb(
      alert_id: "a-3"
      type: PEACE_TALK_STATUS_CHANGED
      severity: MEDIUM
      headline: "Peace talks: summit at Bürgenstock now scheduled"
      countries: [ "CHE", "UKR" ]
      event {
        event_id: "seed-peace-summit-scheduled-2024-04"
        source { outlet: "Swiss Federal Council" }
        peace_talk {
          process_id: "ukraine-peace-summit"
          status: SCHEDULED
          parties: [ "CHE", "UKR" ]
          venue_country: "CHE"
        }
      }
    )pb",
    "",
};

// Parsed once; never destroyed, like other process-wide singletons.
const std::vector<v1::Alert>& Alerts() {
  static const auto* const alerts = [] {
    auto* parsed = new std::vector<v1::Alert>(kAlerts.size());
    for (size_t i = 0; i < kAlerts.size(); ++i) {
      const bool ok = google::protobuf::TextFormat::ParseFromString(
          std::string(kAlerts[i]), &(*parsed)[i]);
      fuzz::Check(ok, "a fixed alert does not parse", kAlerts[i]);
    }
    return parsed;
  }();
  return *alerts;
}

void CheckCompileError(const absl::Status& status, absl::string_view text) {
  fuzz::Check(status.code() == absl::StatusCode::kInvalidArgument,
              "Filter::Compile failed with a code other than INVALID_ARGUMENT",
              absl::StrCat(status.ToString(), "\nfilter: \"",
                           absl::CHexEscape(text), "\""));
  fuzz::Check(absl::StrContains(status.message(), "column "),
              "Filter::Compile error names no column",
              absl::StrCat(status.ToString(), "\nfilter: \"",
                           absl::CHexEscape(text), "\""));
}

void FuzzAlertFilter(absl::string_view text) {
  const absl::StatusOr<Filter> filter =
      Filter::Compile(text, FilterTarget::kAlert);
  if (!filter.ok()) {
    CheckCompileError(filter.status(), text);
    return;
  }
  for (const v1::Alert& alert : Alerts()) {
    const bool matches = filter->Matches(alert);
    fuzz::Check(matches || !filter->matches_everything(),
                "an empty alert filter did not match an alert");
    fuzz::Check(!filter->Matches(alert.event()),
                "an alert filter matched an event");
  }
}

void FuzzEventFilter(absl::string_view text) {
  const absl::StatusOr<Filter> filter =
      Filter::Compile(text, FilterTarget::kEvent);
  if (!filter.ok()) {
    CheckCompileError(filter.status(), text);
    return;
  }
  for (const v1::Alert& alert : Alerts()) {
    const bool matches = filter->Matches(alert.event());
    fuzz::Check(matches || !filter->matches_everything(),
                "an empty event filter did not match an event");
    fuzz::Check(!filter->Matches(alert), "an event filter matched an alert");
  }
}

}  // namespace
}  // namespace dipwire::server

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  dipwire::server::FuzzAlertFilter(text);
  dipwire::server::FuzzEventFilter(text);
  return 0;
}
