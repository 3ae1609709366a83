// libFuzzer target for engine snapshots (AlertEngine::LoadState,
// server/alert_engine.h). Each input is loaded twice: as it is, and, when it
// parses as an EngineState, sealed (SealStateForTesting: checksum appended) so
// that the fuzzer reaches the checks of the contents and not only the
// checksum. A load must never crash; a failed load is DATA_LOSS or
// INVALID_ARGUMENT "engine snapshot: ..." and leaves the engine empty (as it
// was); a load that succeeds saves to bytes that load again, into the same
// bytes, and the loaded engine applies events.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dipwire/internal/engine_state.pb.h"
#include "dipwire/v1/events.pb.h"
#include "google/protobuf/text_format.h"
#include "server/alert_engine.h"
#include "tests/fuzz/fuzz_checks.h"

namespace dipwire::server {
namespace {

// One event of each family, applied to every engine that loaded: the rules
// must cope with whatever state a snapshot that loads can hold.
constexpr std::array<absl::string_view, 4> kEvents = {
    R"pb(event_id: "m"
         occurred_at { seconds: 1712534400 }
         reported_at { seconds: 1712534400 }
         meeting {
           meeting_id: "m-1"
           participants { name: "a" country: "CHN" role: HEAD_OF_STATE }
           participants { name: "b" country: "RUS" }
           city: "Beijing"
           status: HELD
         })pb",
    R"pb(event_id: "d"
         occurred_at { seconds: 1712534400 }
         reported_at { seconds: 1712534400 }
         meeting {
           participants { name: "a" country: "CHN" }
           participants { name: "b" country: "RUS" }
           status: SCHEDULED
         })pb",
    R"pb(event_id: "t"
         occurred_at { seconds: 1712534400 }
         reported_at { seconds: 1712534400 }
         trade {
           country_a: "CHN"
           country_b: "RUS"
           year: 2023
           value_usd: 240000000000
           flow: TOTAL
         })pb",
    R"pb(event_id: "p"
         occurred_at { seconds: 1712534400 }
         reported_at { seconds: 1712534400 }
         peace_talk { process_id: "ukr-1" status: AGREED })pb",
};

void ApplyEvents(AlertEngine* engine) {
  uint64_t sequence = 0;
  for (absl::string_view text : kEvents) {
    v1::DiplomaticEvent event;
    fuzz::Check(google::protobuf::TextFormat::ParseFromString(std::string(text),
                                                              &event),
                "a fixed event does not parse", text);
    ++sequence;
    engine->Apply(LogEntry{sequence, &event, absl::UnixEpoch()});
  }
}

void FuzzLoad(absl::string_view bytes) {
  const std::string empty_state = AlertEngine().SaveState();
  AlertEngine engine;
  const absl::Status status = engine.LoadState(bytes);
  if (!status.ok()) {
    fuzz::Check(status.code() == absl::StatusCode::kDataLoss ||
                    status.code() == absl::StatusCode::kInvalidArgument,
                "LoadState failed with a code other than DATA_LOSS or "
                "INVALID_ARGUMENT",
                absl::CHexEscape(status.ToString()));
    fuzz::Check(absl::StartsWith(status.message(), "engine snapshot: "),
                "a LoadState error does not start with \"engine snapshot: \"",
                absl::CHexEscape(status.ToString()));
    fuzz::Check(engine.SaveState() == empty_state,
                "a failed LoadState changed the engine");
    return;
  }
  const std::string saved = engine.SaveState();
  AlertEngine reloaded;
  const absl::Status reload = reloaded.LoadState(saved);
  fuzz::Check(reload.ok(),
              "a state that loaded saved to bytes that do not load",
              absl::CHexEscape(reload.ToString()));
  fuzz::Check(reloaded.SaveState() == saved,
              "a state that loaded does not save to the same bytes again",
              absl::StrCat("input: \"", absl::CHexEscape(bytes), "\""));
  ApplyEvents(&engine);
}

}  // namespace
}  // namespace dipwire::server

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  dipwire::server::FuzzLoad(input);
  dipwire::internal::EngineState state;
  if (state.ParseFromArray(data, static_cast<int>(size))) {
    dipwire::server::FuzzLoad(
        dipwire::server::AlertEngine::SealStateForTesting(state));
  }
  return 0;
}
