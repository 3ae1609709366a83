// Google Benchmark micro-benchmarks of dipwire's hot paths (issue 5): event
// validation, filter compilation and evaluation, alert derivation, cursor
// encoding, the store's append and page reads, and the serialization of
// subscriber responses.
//
// The inputs are the seed demo's events (deploy/demo/seed-article.jsonl)
// and the alerts the engine derives from them, so the figures are for
// real-shaped events, not synthetic ones. Run a Release build:
//
//   build-release/tests/micro_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true   (one line)
//
// PERFORMANCE.md has figures and what they mean.

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/event_validation.h"
#include "common/proto_json.h"
#include "dipwire/v1/alerts.pb.h"
#include "dipwire/v1/events.pb.h"
#include "server/alert_engine.h"
#include "server/cursor.h"
#include "server/event_store.h"
#include "server/filter.h"
#include "server/sqlite_event_store.h"

namespace dipwire::server {
namespace {

// The seed's events and the alerts they yield, loaded once.
struct Seed {
  std::vector<v1::DiplomaticEvent> events;
  std::vector<v1::Alert> alerts;  // cursor set, as subscribers receive them
};

// Ingest time of the seed (a few days after its newest report).
absl::Time SeedNow() {
  return absl::FromCivil(absl::CivilSecond(2024, 4, 15, 0, 0, 0),
                         absl::UTCTimeZone());
}

Seed LoadSeed() {
  Seed seed;
  std::ifstream in(DIPWIRE_SOURCE_DIR "/deploy/demo/seed-article.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    absl::StatusOr<v1::DiplomaticEvent> event = ParseEventJson(line);
    if (!event.ok()) {
      std::cerr << "seed: " << event.status() << "\n";
      std::abort();
    }
    seed.events.push_back(*std::move(event));
  }
  AlertEngine engine;
  uint64_t sequence = 0;
  for (const v1::DiplomaticEvent& event : seed.events) {
    for (v1::Alert& alert : engine.Apply({++sequence, &event, SeedNow()})) {
      alert.set_cursor(EncodeCursor(seed.alerts.size() + 1));
      seed.alerts.push_back(std::move(alert));
    }
  }
  if (seed.events.empty() || seed.alerts.empty()) {
    std::cerr << "seed: no events or no alerts\n";
    std::abort();
  }
  return seed;
}

const Seed& TheSeed() {
  static const Seed* const seed = new Seed(LoadSeed());
  return *seed;
}

// Items are events or alerts; bytes their serialized size.
void Validation(benchmark::State& state) {
  const std::vector<v1::DiplomaticEvent>& events = TheSeed().events;
  const absl::Time now = SeedNow();
  size_t i = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const v1::DiplomaticEvent& event = events[i++ % events.size()];
    benchmark::DoNotOptimize(ValidateEvent(event, "", now));
    bytes += static_cast<int64_t>(event.ByteSizeLong());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(Validation);

// The filters of DESIGN.md's examples, simplest first.
constexpr std::array<const char*, 6> kFilters = {
    "",
    "type = TRADE_RECORD",
    "countries:CHN AND countries:RUS",
    "severity >= HIGH",
    ("(type = LEADER_MEETING_NEW OR type = LEADER_MEETING_UPDATED) AND NOT "
     "countries:USA"),
    "headline:\"ceasefire\"",
};

void FilterCompile(benchmark::State& state) {
  const char* text = kFilters[state.range(0)];
  state.SetLabel(text);
  for (auto _ : state) {
    benchmark::DoNotOptimize(Filter::Compile(text, FilterTarget::kAlert));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(FilterCompile)->DenseRange(1, kFilters.size() - 1);

// One evaluation per item, over the seed's alerts in turn: what a
// subscriber costs per alert it is offered.
void FilterMatch(benchmark::State& state) {
  const char* text = kFilters[state.range(0)];
  state.SetLabel(*text == '\0' ? "(empty)" : text);
  const Filter filter = *Filter::Compile(text, FilterTarget::kAlert);
  const std::vector<v1::Alert>& alerts = TheSeed().alerts;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(filter.Matches(alerts[i++ % alerts.size()]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(FilterMatch)->DenseRange(0, kFilters.size() - 1);

// The whole seed through a fresh engine per iteration; items are events.
void AlertDerivation(benchmark::State& state) {
  const std::vector<v1::DiplomaticEvent>& events = TheSeed().events;
  for (auto _ : state) {
    AlertEngine engine;
    uint64_t sequence = 0;
    for (const v1::DiplomaticEvent& event : events) {
      benchmark::DoNotOptimize(engine.Apply({++sequence, &event, SeedNow()}));
    }
  }
  state.SetItemsProcessed(state.iterations() *
                          static_cast<int64_t>(events.size()));
}
BENCHMARK(AlertDerivation);

// An engine holding `meetings` meetings (half with a meeting_id, half
// without), a tenth as many trade series of five years each, and a hundredth
// as many peace processes: the state a long-running server snapshots.
std::unique_ptr<AlertEngine> EngineWithIdentities(int meetings) {
  auto engine = std::make_unique<AlertEngine>();
  const absl::Time start = SeedNow() - absl::Hours(24 * 365);
  uint64_t sequence = 0;
  const auto apply = [&](const v1::DiplomaticEvent& event) {
    engine->Apply({++sequence, &event, SeedNow()});
  };
  v1::DiplomaticEvent event;
  event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(start));
  event.mutable_reported_at()->set_seconds(absl::ToUnixSeconds(start));
  for (int i = 0; i < meetings; ++i) {
    v1::LeaderMeeting* meeting = event.mutable_meeting();
    meeting->Clear();
    if (i % 2 == 0) meeting->set_meeting_id(absl::StrCat("meeting-", i));
    for (const char* country : {"CHN", "RUS"}) {
      v1::Actor* actor = meeting->add_participants();
      actor->set_name(absl::StrCat("Minister ", country, " ", i % 97));
      actor->set_country(country);
    }
    meeting->set_city("Beijing");
    meeting->set_status(v1::LeaderMeeting::SCHEDULED);
    event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(
        start + absl::Hours(24 * static_cast<int64_t>(i / 97))));
    apply(event);
  }
  for (int i = 0; i < meetings / 10; ++i) {
    for (int year = 2019; year < 2024; ++year) {
      v1::TradeFigure* trade = event.mutable_trade();
      trade->set_country_a("CHN");
      trade->set_country_b("RUS");
      trade->set_flow(v1::TradeFigure::EXPORTS);
      trade->set_reporter(absl::StrCat("reporter ", i));
      trade->set_year(year);
      trade->set_value_usd(int64_t{1'000'000'000} * (year - 2000));
      apply(event);
    }
  }
  for (int i = 0; i < meetings / 100; ++i) {
    v1::PeaceTalkUpdate* talk = event.mutable_peace_talk();
    talk->set_process_id(absl::StrCat("process-", i));
    talk->set_status(v1::PeaceTalkUpdate::SCHEDULED);
    apply(event);
  }
  return engine;
}

// AlertEngine::SaveState of an engine holding range(0) meetings (and
// EngineWithIdentities' other identities); bytes are the snapshot's.
void EngineSaveState(benchmark::State& state) {
  const std::unique_ptr<AlertEngine> engine =
      EngineWithIdentities(static_cast<int>(state.range(0)));
  int64_t bytes = 0;
  for (auto _ : state) {
    const std::string snapshot = engine->SaveState();
    bytes += static_cast<int64_t>(snapshot.size());
    benchmark::DoNotOptimize(snapshot);
  }
  state.SetBytesProcessed(bytes);
  state.counters["snapshot_bytes"] =
      static_cast<double>(engine->SaveState().size());
}
BENCHMARK(EngineSaveState)->Arg(10'000)->Unit(benchmark::kMillisecond);

// AlertEngine::LoadState of that snapshot into one engine, over and over.
void EngineLoadState(benchmark::State& state) {
  const std::string snapshot =
      EngineWithIdentities(static_cast<int>(state.range(0)))->SaveState();
  AlertEngine engine;
  for (auto _ : state) {
    if (!engine.LoadState(snapshot).ok()) {
      state.SkipWithError("LoadState failed");
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(snapshot.size()));
}
BENCHMARK(EngineLoadState)->Arg(10'000)->Unit(benchmark::kMillisecond);

void CursorEncode(benchmark::State& state) {
  uint64_t position = 1'000'000;
  for (auto _ : state) benchmark::DoNotOptimize(EncodeCursor(++position));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(CursorEncode);

void CursorDecode(benchmark::State& state) {
  const std::string cursor = EncodeCursor(123'456'789);
  for (auto _ : state) benchmark::DoNotOptimize(DecodeCursor(cursor));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(CursorDecode);

// A subscriber's response of `range(0)` alerts, built the way each
// subscriber's is: by copying every alert into the response and serializing
// the response.
void ResponseCopyAndSerialize(benchmark::State& state) {
  const std::vector<v1::Alert>& alerts = TheSeed().alerts;
  const auto count = static_cast<size_t>(state.range(0));
  int64_t bytes = 0;
  std::string wire;
  for (auto _ : state) {
    v1::SubscribeResponse response;
    for (size_t i = 0; i < count; ++i) {
      *response.add_alerts() = alerts[i % alerts.size()];
    }
    wire.clear();
    response.SerializeToString(&wire);
    bytes += static_cast<int64_t>(wire.size());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(bytes);
}
BENCHMARK(ResponseCopyAndSerialize)->Arg(1)->Arg(64)->Arg(1000);

// The same response from each alert's serialized field, encoded once when
// the alert was committed (SubscribeResponse.alerts is field 1, so a
// response is the concatenation of its alerts' encoded fields).
void ResponseFromPayloads(benchmark::State& state) {
  const std::vector<v1::Alert>& alerts = TheSeed().alerts;
  std::vector<std::string> encoded;
  for (const v1::Alert& alert : alerts) {
    v1::SubscribeResponse one;
    *one.add_alerts() = alert;
    encoded.push_back(one.SerializeAsString());
  }
  const auto count = static_cast<size_t>(state.range(0));
  int64_t bytes = 0;
  std::string wire;
  for (auto _ : state) {
    wire.clear();
    for (size_t i = 0; i < count; ++i) wire += encoded[i % encoded.size()];
    benchmark::DoNotOptimize(wire.data());
    bytes += static_cast<int64_t>(wire.size());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(bytes);
}
BENCHMARK(ResponseFromPayloads)->Arg(1)->Arg(64)->Arg(1000);

// What a subscriber's client does per response: parse it.
void ResponseParse(benchmark::State& state) {
  const std::vector<v1::Alert>& alerts = TheSeed().alerts;
  v1::SubscribeResponse response;
  for (int64_t i = 0; i < state.range(0); ++i) {
    *response.add_alerts() = alerts[static_cast<size_t>(i) % alerts.size()];
  }
  const std::string wire = response.SerializeAsString();
  for (auto _ : state) {
    v1::SubscribeResponse parsed;
    benchmark::DoNotOptimize(parsed.ParseFromString(wire));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(wire.size()));
}
BENCHMARK(ResponseParse)->Arg(1)->Arg(64);

// A store in a fresh temporary directory, removed afterwards.
class TempStore {
 public:
  TempStore() {
    static int count = 0;
    std::error_code error;
    dir_ = std::filesystem::temp_directory_path(error) /
           absl::StrCat("dipwire-micro-bench-", ::getpid(), "-", ++count);
    std::filesystem::remove_all(dir_, error);
    absl::StatusOr<std::unique_ptr<SqliteEventStore>> store =
        SqliteEventStore::Open({.data_dir = dir_.string()});
    if (!store.ok()) {
      std::cerr << "store: " << store.status() << "\n";
      std::abort();
    }
    store_ = *std::move(store);
  }
  TempStore(const TempStore&) = delete;
  TempStore& operator=(const TempStore&) = delete;
  ~TempStore() {
    store_.reset();
    std::error_code error;
    std::filesystem::remove_all(dir_, error);
  }
  SqliteEventStore& operator*() { return *store_; }
  SqliteEventStore* operator->() { return store_.get(); }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<SqliteEventStore> store_;
};

// Stored events numbered from `first_sequence`, each a seed event under a
// fresh id, with one alert each (the seed's alerts in turn).
void MakeBatch(uint64_t first_sequence, uint64_t first_position, size_t count,
               std::vector<StoredEvent>* events,
               std::vector<StoredAlert>* alerts) {
  const Seed& seed = TheSeed();
  events->clear();
  alerts->clear();
  for (size_t i = 0; i < count; ++i) {
    StoredEvent& stored = events->emplace_back();
    stored.sequence = first_sequence + i;
    stored.event = seed.events[stored.sequence % seed.events.size()];
    stored.event.set_event_id(absl::StrCat("bench-", stored.sequence));
    stored.content_hash = std::string(32, 'h');
    stored.committed_at = SeedNow();
    StoredAlert& alert = alerts->emplace_back();
    alert.position = first_position + i;
    alert.alert = seed.alerts[alert.position % seed.alerts.size()];
    alert.alert.set_alert_id(AlertEngine::AlertId(stored.sequence, 0));
    alert.alert.set_cursor(EncodeCursor(alert.position));
    *alert.alert.mutable_event() = stored.event;
    stored.alert_ids.push_back(alert.alert.alert_id());
  }
}

// One transaction (one fsync) per iteration of range(0) events, each with
// one alert: the group commit's unit of work. Items are events.
void StoreAppend(benchmark::State& state) {
  TempStore store;
  const auto count = static_cast<size_t>(state.range(0));
  std::vector<StoredEvent> events;
  std::vector<StoredAlert> alerts;
  uint64_t next = 1;
  for (auto _ : state) {
    state.PauseTiming();
    MakeBatch(next, next, count, &events, &alerts);
    next += count;
    state.ResumeTiming();
    if (absl::Status status = store->Append(events, alerts); !status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(StoreAppend)->Arg(1)->Arg(64)->Arg(1000)->UseRealTime();

// A catch-up page: range(0) alerts read from a store of 20,000.
void StoreReadAlerts(benchmark::State& state) {
  constexpr size_t kStored = 20'000;
  constexpr size_t kBatch = 1'000;
  TempStore store;
  std::vector<StoredEvent> events;
  std::vector<StoredAlert> alerts;
  for (uint64_t next = 1; next <= kStored; next += kBatch) {
    MakeBatch(next, next, kBatch, &events, &alerts);
    if (absl::Status status = store->Append(events, alerts); !status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      return;
    }
  }
  const auto page = static_cast<size_t>(state.range(0));
  uint64_t after = 0;
  std::vector<StoredAlert> out;
  for (auto _ : state) {
    out.clear();
    if (absl::Status status =
            store->ReadAlerts(after, page, size_t{64} << 20, &out);
        !status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
    after = (after + page) % (kStored - page);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(StoreReadAlerts)->Arg(100)->Arg(1000);

}  // namespace
}  // namespace dipwire::server

BENCHMARK_MAIN();
