// The seed demo (deploy/demo/): every fact of the seed article as an event,
// and the alerts they yield, written next to them. This test keeps the two
// files and the alert engine in step.
//
// To regenerate deploy/demo/seed-article.expected after a deliberate change
// to the events or to the headlines, run the test with DIPWIRE_PRINT_ACTUAL=1:
// it prints the actual lines between two markers, and fails if they differ.

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/event_validation.h"
#include "dipwire/v1/alerts.pb.h"
#include "dipwire/v1/events.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "server/alert_engine.h"
#include "tests/testing/status_matchers.h"

namespace dipwire::server {
namespace {

using ::dipwire::testing::IsOk;
using ::testing::ElementsAreArray;
using ::testing::SizeIs;

constexpr absl::string_view kEventsPath =
    DIPWIRE_SOURCE_DIR "/deploy/demo/seed-article.jsonl";
constexpr absl::string_view kExpectedPath =
    DIPWIRE_SOURCE_DIR "/deploy/demo/seed-article.expected";

// The ingest time: a few days after the newest report of the seed (10 April
// 2024). Also the commit time of every event.
absl::Time SeedNow() {
  return absl::FromCivil(absl::CivilSecond(2024, 4, 15, 0, 0, 0),
                         absl::UTCTimeZone());
}

// One event of the seed file and the 1-based line it is on.
struct SeedEvent {
  int line = 0;
  v1::DiplomaticEvent event;
};

// One alert the engine derived, and the id of the event that yielded it.
struct DerivedAlert {
  std::string event_id;
  v1::Alert alert;
};

absl::StatusOr<std::vector<std::string>> ReadLines(absl::string_view path) {
  std::ifstream in{std::string{path}};
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path));
  }
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
  }
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat("cannot read ", path));
  }
  return lines;
}

// Parses every line of the seed file that is not a comment ('#' first), as
// the CLI does when it publishes the file.
absl::StatusOr<std::vector<SeedEvent>> ReadSeedEvents() {
  absl::StatusOr<std::vector<std::string>> lines = ReadLines(kEventsPath);
  if (!lines.ok()) {
    return lines.status();
  }
  std::vector<SeedEvent> events;
  for (size_t i = 0; i < lines->size(); ++i) {
    const std::string& line = (*lines)[i];
    if (absl::StartsWith(line, "#")) {
      continue;
    }
    SeedEvent seed;
    seed.line = static_cast<int>(i) + 1;
    const auto parsed =
        google::protobuf::util::JsonStringToMessage(line, &seed.event);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(kEventsPath, ":", seed.line,
                       ": not a DiplomaticEvent in JSON: ", parsed.ToString()));
    }
    events.push_back(std::move(seed));
  }
  return events;
}

// Applies the events in order to a fresh engine, as the log would: sequence
// 1, 2, 3, ..., all committed at SeedNow().
std::vector<DerivedAlert> ApplyInOrder(const std::vector<SeedEvent>& events) {
  AlertEngine engine;
  std::vector<DerivedAlert> derived;
  uint64_t sequence = 0;
  for (const SeedEvent& seed : events) {
    LogEntry entry;
    entry.sequence = ++sequence;
    entry.event = &seed.event;
    entry.committed_at = SeedNow();
    for (v1::Alert& alert : engine.Apply(entry)) {
      derived.push_back({seed.event.event_id(), std::move(alert)});
    }
  }
  return derived;
}

// "<event_id>\t<TYPE>\t<SEVERITY>\t<headline>", the format of the expected
// file.
std::string ExpectedLine(const DerivedAlert& derived) {
  return absl::StrCat(derived.event_id, "\t",
                      v1::Alert::Type_Name(derived.alert.type()), "\t",
                      v1::Alert::Severity_Name(derived.alert.severity()), "\t",
                      derived.alert.headline());
}

// Checks that `line` (line `number` of the expected file) has the form
// "<event_id>\t<TYPE>\t<SEVERITY>\t<headline>" with a known type and
// severity, so that a typo in the file reads as one rather than as a
// mismatch.
absl::Status CheckExpectedLine(int number, const std::string& line) {
  const std::vector<absl::string_view> fields = absl::StrSplit(line, '\t');
  const std::string where = absl::StrCat(kExpectedPath, ":", number, ": ");
  if (fields.size() != 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, fields.size(),
        " tab-separated fields; want <event_id> <TYPE> <SEVERITY> <headline>"));
  }
  v1::Alert::Type type = v1::Alert::TYPE_UNSPECIFIED;
  if (!v1::Alert::Type_Parse(std::string{fields[1]}, &type)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "unknown alert type \"", fields[1], "\""));
  }
  v1::Alert::Severity severity = v1::Alert::SEVERITY_UNSPECIFIED;
  if (!v1::Alert::Severity_Parse(std::string{fields[2]}, &severity)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "unknown severity \"", fields[2], "\""));
  }
  return absl::OkStatus();
}

bool PrintActualRequested() {
  // The test starts no threads, so nothing can change the environment
  // concurrently.
  const char* value = std::getenv(  // NOLINT(concurrency-mt-unsafe)
      "DIPWIRE_PRINT_ACTUAL");
  return value != nullptr && *value != '\0' && std::string(value) != "0";
}

TEST(SeedDemoTest, EverySeedEventIsValid) {
  absl::StatusOr<std::vector<SeedEvent>> events = ReadSeedEvents();
  ASSERT_THAT(events, IsOk());
  ASSERT_THAT(*events, ::testing::Not(::testing::IsEmpty()));

  v1::PublishRequest batch;
  for (size_t i = 0; i < events->size(); ++i) {
    const SeedEvent& seed = (*events)[i];
    SCOPED_TRACE(absl::StrCat(kEventsPath, ":", seed.line, " (event_id \"",
                              seed.event.event_id(), "\")"));
    EXPECT_THAT(
        ValidateEvent(seed.event, absl::StrCat("events[", i, "]"), SeedNow()),
        IsOk());
    // The server would default reported_at to the ingest time; the demo
    // states every report's own time instead, and none lies in the future.
    ASSERT_TRUE(seed.event.has_reported_at());
    EXPECT_LE(absl::FromUnixSeconds(seed.event.reported_at().seconds()),
              SeedNow());
    *batch.add_events() = seed.event;
  }
  // The demo publishes the file as one batch: no event_id twice.
  EXPECT_THAT(ValidatePublishRequest(batch, SeedNow()), IsOk());
}

TEST(SeedDemoTest, SeedArticleYieldsExpectedAlerts) {
  absl::StatusOr<std::vector<SeedEvent>> events = ReadSeedEvents();
  ASSERT_THAT(events, IsOk());
  const std::vector<DerivedAlert> derived = ApplyInOrder(*events);

  std::vector<std::string> actual;
  actual.reserve(derived.size());
  for (const DerivedAlert& d : derived) {
    actual.push_back(ExpectedLine(d));
    // Each alert carries the event that triggered it.
    EXPECT_EQ(d.alert.event().event_id(), d.event_id);
  }
  if (PrintActualRequested()) {
    std::cout << "----- actual " << kExpectedPath << " -----\n"
              << absl::StrJoin(actual, "\n") << "\n"
              << "----- end -----\n";
  }

  absl::StatusOr<std::vector<std::string>> expected = ReadLines(kExpectedPath);
  ASSERT_THAT(expected, IsOk());

  for (size_t i = 0; i < expected->size(); ++i) {
    EXPECT_THAT(CheckExpectedLine(static_cast<int>(i) + 1, (*expected)[i]),
                IsOk());
  }

  EXPECT_EQ(actual.size(), expected->size())
      << "the seed yields " << actual.size() << " alerts; " << kExpectedPath
      << " lists " << expected->size();
  EXPECT_THAT(actual, ElementsAreArray(*expected));
}

TEST(SeedDemoTest, TradeRecordNamesPreviousHigh) {
  absl::StatusOr<std::vector<SeedEvent>> events = ReadSeedEvents();
  ASSERT_THAT(events, IsOk());

  std::vector<DerivedAlert> records;
  for (DerivedAlert& d : ApplyInOrder(*events)) {
    if (d.alert.type() == v1::Alert::TRADE_RECORD) {
      records.push_back(std::move(d));
    }
  }

  // China-Russia trade in 2023 ($240.1 billion) beats 2022's $190.3 billion.
  ASSERT_THAT(records, SizeIs(1));
  const v1::Alert& record = records[0].alert;
  EXPECT_EQ(records[0].event_id, "seed-trade-chn-rus-2023");
  EXPECT_EQ(record.severity(), v1::Alert::HIGH);
  EXPECT_THAT(record.countries(), ElementsAreArray({"CHN", "RUS"}));
  ASSERT_TRUE(record.has_trade_change());
  EXPECT_EQ(record.trade_change().previous_record_usd(), int64_t{190300000000});
  EXPECT_EQ(record.trade_change().previous_record_year(), 2022);
  // A new year, not a revision: no previous value of its own.
  EXPECT_EQ(record.trade_change().previous_value_usd(), 0);
}

}  // namespace
}  // namespace dipwire::server
