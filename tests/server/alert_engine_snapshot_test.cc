// AlertEngine::SaveState / LoadState (server/alert_engine.h): a snapshot
// taken anywhere in a log, loaded into a fresh engine, derives the rest of
// the log exactly as the engine that applied it all; what is not a snapshot
// is refused and leaves the engine as it was.

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/event_validation.h"
#include "common/proto_bytes.h"
#include "dipwire/internal/engine_state.pb.h"
#include "dipwire/v1/alerts.pb.h"
#include "dipwire/v1/events.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "server/alert_engine.h"
#include "tests/testing/status_matchers.h"

namespace dipwire::server {
namespace {

using ::dipwire::internal::EngineState;
using ::dipwire::testing::IsOk;
using ::dipwire::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using v1::Alert;
using v1::DiplomaticEvent;
using v1::LeaderMeeting;
using v1::PeaceTalkUpdate;
using v1::TradeFigure;

constexpr absl::string_view kSeedPath =
    DIPWIRE_SOURCE_DIR "/deploy/demo/seed-article.jsonl";

absl::Time CommitTime(uint64_t sequence) {
  return absl::FromUnixSeconds(1'712'000'000) +
         absl::Seconds(static_cast<int64_t>(sequence));
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

// The events of the seed demo (deploy/demo/seed-article.jsonl), in order.
absl::StatusOr<std::vector<DiplomaticEvent>> SeedLog() {
  std::ifstream in{std::string(kSeedPath)};
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot open ", kSeedPath));
  }
  std::vector<DiplomaticEvent> log;
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "#")) {
      continue;
    }
    DiplomaticEvent event;
    if (!google::protobuf::util::JsonStringToMessage(line, &event).ok()) {
      return absl::InvalidArgumentError(absl::StrCat("not an event: ", line));
    }
    log.push_back(std::move(event));
  }
  return log;
}

// A valid log, the same every run (a fixed seed), that takes every path of
// the rules: meetings with and without a meeting_id, updates of status, city
// and time, names, ids, cities, reporters and process ids that differ only
// by case or white space, stale reports (reported_at going back), trade
// records, updates and revisions in all three flows and both directions,
// repeated values, and peace-talk status changes and repeats.
std::vector<DiplomaticEvent> GeneratedLog(int size) {
  std::mt19937 random(20241127);
  const auto pick = [&random](size_t n) {
    return static_cast<size_t>(random() % n);
  };
  const std::vector<std::vector<std::string>> people = {
      {"Wang Yi", "wang  yi", " WANG YI "},
      {"Sergei Lavrov", "sergei\tlavrov"},
      {"Xi Jinping", "XI JINPING"},
      {"Vladimir Putin", "vladimir putin "}};
  const std::vector<std::string> countries = {"CHN", "RUS", "CHN", "RUS"};
  const std::vector<std::string> meeting_ids = {"",     "",    "m-1",
                                                "M-1 ", "m-2", "summit  a"};
  const std::vector<std::string> cities = {"", "Beijing", " beijing", "Moscow"};
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"CHN", "RUS"}, {"RUS", "CHN"}, {"USA", "CHN"}};
  const std::vector<std::string> reporters = {"China customs", "china  customs",
                                              "IMF", "imf "};
  const std::vector<int64_t> values = {90, 100, 150, 150, 200, 120};
  const std::vector<std::string> processes = {"ukr-1", "UKR-1", " ukr-1 ",
                                              "gaza"};
  const absl::Time start = absl::FromUnixSeconds(1'700'000'000);

  std::vector<DiplomaticEvent> log;
  for (int i = 0; i < size; ++i) {
    DiplomaticEvent event;
    event.set_event_id(absl::StrCat("gen-", i));
    event.mutable_source()->set_outlet("Generated");
    // Reports move forward an hour at a time; one in five is a day late
    // (stale for what a newer report already touched).
    absl::Time reported_at = start + absl::Hours(i);
    if (pick(5) == 0) {
      reported_at -= absl::Hours(24);
    }
    *event.mutable_reported_at() = ToTimestamp(reported_at);
    absl::Time occurred_at =
        start + absl::Hours(24 * static_cast<int64_t>(pick(2)) +
                            5 * static_cast<int64_t>(pick(3)));
    *event.mutable_occurred_at() = ToTimestamp(occurred_at);
    switch (pick(3)) {
      case 0: {
        LeaderMeeting* meeting = event.mutable_meeting();
        meeting->set_meeting_id(meeting_ids[pick(meeting_ids.size())]);
        const size_t first = pick(2);
        for (size_t who : {first, 2 + pick(2)}) {
          v1::Actor* actor = meeting->add_participants();
          actor->set_name(people[who][pick(people[who].size())]);
          actor->set_country(countries[who]);
          actor->set_role(pick(2) == 0 ? v1::Actor::HEAD_OF_STATE
                                       : v1::Actor::FOREIGN_MINISTER);
        }
        meeting->set_city(cities[pick(cities.size())]);
        meeting->set_host_country(pick(2) == 0 ? "CHN" : "");
        meeting->set_status(static_cast<LeaderMeeting::Status>(1 + pick(5)));
        break;
      }
      case 1: {
        TradeFigure* trade = event.mutable_trade();
        const auto& [a, b] = pairs[pick(pairs.size())];
        trade->set_country_a(a);
        trade->set_country_b(b);
        trade->set_flow(static_cast<TradeFigure::Flow>(1 + pick(3)));
        trade->set_year(static_cast<int32_t>(2020 + pick(4)));
        trade->set_value_usd(values[pick(values.size())] * 1'000'000'000);
        trade->set_reporter(reporters[pick(reporters.size())]);
        break;
      }
      default: {
        PeaceTalkUpdate* talk = event.mutable_peace_talk();
        talk->set_process_id(processes[pick(processes.size())]);
        talk->set_title(pick(2) == 0 ? "Peace summit" : "");
        talk->set_status(static_cast<PeaceTalkUpdate::Status>(1 + pick(7)));
        talk->add_parties("RUS");
        talk->add_parties("UKR");
        break;
      }
    }
    log.push_back(std::move(event));
  }
  return log;
}

// The alerts of one event, serialized, so that vectors compare exactly.
std::vector<std::string> Serialized(const std::vector<Alert>& alerts) {
  std::vector<std::string> out;
  out.reserve(alerts.size());
  for (const Alert& alert : alerts) {
    out.push_back(SerializeDeterministically(alert));
  }
  return out;
}

LogEntry Entry(const std::vector<DiplomaticEvent>& log, size_t i) {
  return LogEntry{i + 1, &log[i], CommitTime(i + 1)};
}

// The property retention relies on: for every split point k, an engine that
// loads the snapshot taken after log[0..k) derives from log[k..] exactly the
// alerts of the engine that applied the whole log, and ends in the same
// state, byte for byte.
void ExpectSnapshotsContinueExactly(const std::vector<DiplomaticEvent>& log) {
  AlertEngine whole;
  std::vector<std::vector<std::string>> expected;
  for (size_t i = 0; i < log.size(); ++i) {
    expected.push_back(Serialized(whole.Apply(Entry(log, i))));
  }
  const std::string final_state = whole.SaveState();

  AlertEngine prefix;  // has applied log[0..k)
  for (size_t k = 0; k <= log.size(); ++k) {
    SCOPED_TRACE(
        absl::StrCat("snapshot after ", k, " of ", log.size(), " events"));
    const std::string snapshot = prefix.SaveState();
    AlertEngine resumed;
    ASSERT_THAT(resumed.LoadState(snapshot), IsOk());
    ASSERT_EQ(resumed.SaveState(), snapshot);
    for (size_t i = k; i < log.size(); ++i) {
      ASSERT_EQ(Serialized(resumed.Apply(Entry(log, i))), expected[i])
          << "event " << i << ": " << log[i].ShortDebugString();
    }
    ASSERT_EQ(resumed.SaveState(), final_state);
    if (k < log.size()) {
      prefix.Apply(Entry(log, k));
    }
  }
}

TEST(AlertEngineSnapshotTest, SeedLogContinuesExactlyFromEverySplit) {
  const absl::StatusOr<std::vector<DiplomaticEvent>> log = SeedLog();
  ASSERT_THAT(log, IsOk());
  ASSERT_GT(log->size(), 10U);
  ExpectSnapshotsContinueExactly(*log);
}

TEST(AlertEngineSnapshotTest, GeneratedLogTakesEveryRulePath) {
  const std::vector<DiplomaticEvent> log = GeneratedLog(400);
  AlertEngine engine;
  std::map<Alert::Type, int> types;
  std::map<TradeFigure::Flow, int> revisions;
  int stale_or_unchanged = 0;
  for (size_t i = 0; i < log.size(); ++i) {
    ASSERT_THAT(ValidateEvent(log[i], "", CommitTime(i + 1)), IsOk());
    const std::vector<Alert> alerts = engine.Apply(Entry(log, i));
    stale_or_unchanged += alerts.empty() ? 1 : 0;
    for (const Alert& alert : alerts) {
      ++types[alert.type()];
      if (alert.trade_change().previous_value_usd() != 0) {
        ++revisions[alert.event().trade().flow()];
      }
    }
  }
  for (Alert::Type type :
       {Alert::LEADER_MEETING_NEW, Alert::LEADER_MEETING_UPDATED,
        Alert::TRADE_RECORD, Alert::TRADE_UPDATE,
        Alert::PEACE_TALK_STATUS_CHANGED}) {
    EXPECT_GT(types[type], 0) << Alert::Type_Name(type);
  }
  for (TradeFigure::Flow flow :
       {TradeFigure::TOTAL, TradeFigure::EXPORTS, TradeFigure::IMPORTS}) {
    EXPECT_GT(revisions[flow], 0) << TradeFigure::Flow_Name(flow);
  }
  EXPECT_GT(stale_or_unchanged, 0);
}

TEST(AlertEngineSnapshotTest, GeneratedLogContinuesExactlyFromEverySplit) {
  ExpectSnapshotsContinueExactly(GeneratedLog(400));
}

TEST(AlertEngineSnapshotTest, EqualStatesGiveEqualBytes) {
  // The same state reached by different engines (whose hash maps may hold
  // their entries in different orders) saves to the same bytes.
  const std::vector<DiplomaticEvent> log = GeneratedLog(200);
  AlertEngine first;
  AlertEngine second;
  for (size_t i = 0; i < log.size(); ++i) {
    first.Apply(Entry(log, i));
  }
  ASSERT_THAT(second.LoadState(first.SaveState()), IsOk());
  EXPECT_EQ(second.SaveState(), first.SaveState());
  EXPECT_EQ(first.SaveState(), first.SaveState());
}

TEST(AlertEngineSnapshotTest, SnapshotHoldsNormalizedIdentities) {
  const std::vector<DiplomaticEvent> log = GeneratedLog(200);
  AlertEngine engine;
  for (size_t i = 0; i < log.size(); ++i) {
    engine.Apply(Entry(log, i));
  }
  EngineState state;
  ASSERT_TRUE(state.ParseFromString(engine.SaveState()));
  EXPECT_EQ(state.version(), AlertEngine::kStateVersion);
  // Names that differ only by case or white space are one identity.
  ASSERT_GT(state.meetings_size(), 0);
  ASSERT_GT(state.trade_series_size(), 0);
  ASSERT_EQ(state.peace_processes_size(), 2);
  EXPECT_EQ(state.peace_processes(0).process_id(), "gaza");
  EXPECT_EQ(state.peace_processes(1).process_id(), "ukr-1");
  for (const auto& meeting : state.meetings()) {
    EXPECT_THAT(meeting.meeting_id(),
                ::testing::AnyOf("", "m-1", "m-2", "summit a"));
    for (const std::string& name : meeting.participants()) {
      EXPECT_THAT(name, ::testing::AnyOf("wang yi", "sergei lavrov",
                                         "xi jinping", "vladimir putin"));
    }
  }
  for (const auto& series : state.trade_series()) {
    EXPECT_THAT(series.reporter(), ::testing::AnyOf("china customs", "imf"));
    EXPECT_GT(series.figures_size(), 0);
  }
}

TEST(AlertEngineSnapshotTest, EmptyEngineSnapshotLoadsIntoEmptyEngine) {
  const AlertEngine empty;
  const std::string snapshot = empty.SaveState();
  AlertEngine loaded;
  ASSERT_THAT(loaded.LoadState(snapshot), IsOk());
  EXPECT_EQ(loaded.SaveState(), snapshot);

  // Still empty: the first events yield what they yield to a fresh engine.
  const std::vector<DiplomaticEvent> log = GeneratedLog(10);
  AlertEngine fresh;
  for (size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(Serialized(loaded.Apply(Entry(log, i))),
              Serialized(fresh.Apply(Entry(log, i))));
  }
}

TEST(AlertEngineSnapshotTest, LoadStateReplacesTheStateItHeld) {
  const std::vector<DiplomaticEvent> log = GeneratedLog(100);
  AlertEngine engine;
  for (size_t i = 0; i < log.size(); ++i) {
    engine.Apply(Entry(log, i));
  }
  const AlertEngine empty;
  ASSERT_THAT(engine.LoadState(empty.SaveState()), IsOk());
  EXPECT_EQ(engine.SaveState(), empty.SaveState());
}

// An engine holding the state of log[0..half), and what applying the rest
// of the log to such an engine yields: a refused LoadState must change
// neither.
class AlertEngineRefusalTest : public ::testing::Test {
 protected:
  AlertEngineRefusalTest() : log_(GeneratedLog(120)) {
    AlertEngine reference;
    for (size_t i = 0; i < log_.size(); ++i) {
      std::vector<std::string> alerts =
          Serialized(engine_.Apply(Entry(log_, i)));
      if (i < kHalf) {
        reference.Apply(Entry(log_, i));
      } else {
        rest_.push_back(std::move(alerts));
      }
    }
    // engine_ applied everything; start both from the half-way state.
    snapshot_ = reference.SaveState();
    EXPECT_THAT(engine_.LoadState(snapshot_), IsOk());
  }

  // The engine is as it was before the refused load: same state, and the
  // rest of the log yields the same alerts.
  void ExpectUnchanged() {
    EXPECT_EQ(engine_.SaveState(), snapshot_);
    for (size_t i = kHalf; i < log_.size(); ++i) {
      ASSERT_EQ(Serialized(engine_.Apply(Entry(log_, i))), rest_[i - kHalf])
          << "event " << i;
    }
  }

  // The half-way snapshot, parsed, for tests that alter it.
  EngineState ParsedSnapshot() const {
    EngineState state;
    EXPECT_TRUE(state.ParseFromString(snapshot_));
    return state;
  }

  static constexpr size_t kHalf = 60;
  std::vector<DiplomaticEvent> log_;
  std::vector<std::vector<std::string>> rest_;
  AlertEngine engine_;
  std::string snapshot_;
};

TEST_F(AlertEngineRefusalTest, GarbageIsDataLoss) {
  EXPECT_THAT(engine_.LoadState("not a snapshot at all \xff\xff\xff"),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("engine snapshot: not a snapshot")));
  EXPECT_THAT(engine_.LoadState(""),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("engine snapshot: not a snapshot")));
  ExpectUnchanged();
}

TEST_F(AlertEngineRefusalTest, EveryTruncationIsDataLoss) {
  ASSERT_GT(snapshot_.size(), 100U);
  for (size_t size = 0; size < snapshot_.size(); ++size) {
    ASSERT_THAT(
        engine_.LoadState(absl::string_view(snapshot_).substr(0, size)),
        StatusIs(absl::StatusCode::kDataLoss, HasSubstr("engine snapshot: ")))
        << size << " of " << snapshot_.size() << " bytes";
  }
  ExpectUnchanged();
}

TEST_F(AlertEngineRefusalTest, EveryAlteredByteIsRefused) {
  for (size_t i = 0; i < snapshot_.size(); ++i) {
    std::string altered = snapshot_;
    altered[i] = static_cast<char>(altered[i] ^ 0x20);
    ASSERT_THAT(engine_.LoadState(altered), Not(IsOk())) << "byte " << i;
  }
  ExpectUnchanged();
}

TEST_F(AlertEngineRefusalTest, UnknownVersionIsInvalidArgumentNamingIt) {
  EngineState state = ParsedSnapshot();
  state.set_version(AlertEngine::kStateVersion + 1);
  EXPECT_THAT(engine_.LoadState(AlertEngine::SealStateForTesting(state)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("engine snapshot: version 2 is not "
                                 "supported (this server reads version 1)")));
  state.set_version(0);
  EXPECT_THAT(
      engine_.LoadState(AlertEngine::SealStateForTesting(state)),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("without a version")));
  ExpectUnchanged();
}

TEST_F(AlertEngineRefusalTest, SealedSnapshotLoads) {
  // SealStateForTesting of a snapshot's own contents is that snapshot.
  EXPECT_EQ(AlertEngine::SealStateForTesting(ParsedSnapshot()), snapshot_);
}

// Contents SaveState could not have written, each refused with DATA_LOSS
// naming the entry, whichever family it is in (a later family failing
// must not leave the earlier ones loaded).
struct BadContent {
  std::string name;
  std::function<void(EngineState*)> alter;
  std::string message;
};

TEST_F(AlertEngineRefusalTest, ContentsSaveStateCannotWriteAreDataLoss) {
  const std::vector<BadContent> cases = {
      {"same meeting twice",
       [](EngineState* s) { *s->add_meetings() = s->meetings(0); },
       "the same meeting again"},
      {"meeting id not normalized",
       [](EngineState* s) {
         auto* m = s->add_meetings();
         m->set_meeting_id("M-9");
       },
       "].meeting_id: \"M-9\" is not a normalized name"},
      {"meeting id and day",
       [](EngineState* s) {
         auto* m = s->add_meetings();
         m->set_meeting_id("m-9");
         m->set_day("2024-01-01");
       },
       "a meeting_id and a day or participants"},
      {"bad day",
       [](EngineState* s) {
         auto* m = s->add_meetings();
         m->set_day("2024-13-01");
         m->add_participants("a");
       },
       "].day: \"2024-13-01\" is not a day (YYYY-MM-DD)"},
      {"participants not sorted",
       [](EngineState* s) {
         auto* m = s->add_meetings();
         m->set_day("2024-01-01");
         m->add_participants("b");
         m->add_participants("a");
       },
       "].participants: not sorted"},
      {"participant not normalized",
       [](EngineState* s) {
         auto* m = s->add_meetings();
         m->set_day("2024-01-01");
         m->add_participants(" a");
       },
       "].participants[0]: \" a\" is not a normalized name"},
      {"unknown meeting status",
       [](EngineState* s) {
         s->mutable_meetings(0)->set_status(
             static_cast<LeaderMeeting::Status>(42));
       },
       "meetings[0].status: 42 is not a known value"},
      {"bad nanos",
       [](EngineState* s) {
         s->mutable_meetings(0)->mutable_occurred_at()->set_nanos(-1);
       },
       "meetings[0].occurred_at.nanos: -1 is not in 0..999999999"},
      {"same series twice",
       [](EngineState* s) { *s->add_trade_series() = s->trade_series(0); },
       "the same series again"},
      {"years not ascending",
       [](EngineState* s) {
         auto* series = s->mutable_trade_series(0);
         *series->add_figures() = series->figures(0);
       },
       "trade_series[0].figures["},
      {"value not positive",
       [](EngineState* s) {
         s->mutable_trade_series(0)->mutable_figures(0)->set_value_usd(0);
       },
       "trade_series[0].figures[0].value_usd: 0 is not positive"},
      {"total pair not sorted",
       [](EngineState* s) {
         auto* series = s->add_trade_series();
         series->set_country_a("RUS");
         series->set_country_b("CHN");
         series->set_flow(TradeFigure::TOTAL);
       },
       "a TOTAL pair not sorted (RUS, CHN)"},
      {"unknown flow",
       [](EngineState* s) {
         s->mutable_trade_series(0)->set_flow(
             static_cast<TradeFigure::Flow>(9));
       },
       "trade_series[0].flow: 9 is not a known value"},
      {"reporter not normalized",
       [](EngineState* s) { s->mutable_trade_series(0)->set_reporter("IMF"); },
       "trade_series[0].reporter: \"IMF\" is not a normalized name"},
      {"same process twice",
       [](EngineState* s) {
         *s->add_peace_processes() = s->peace_processes(0);
       },
       "the same process again"},
      {"process id not normalized",
       [](EngineState* s) {
         s->mutable_peace_processes(0)->set_process_id("Gaza");
       },
       "peace_processes[0].process_id: \"Gaza\" is not a normalized name"},
      {"meeting status unspecified",
       [](EngineState* s) {
         s->mutable_meetings(0)->set_status(LeaderMeeting::STATUS_UNSPECIFIED);
       },
       "meetings[0].status: 0 is not a known value"},
      {"meeting occurred on another day than its identity's",
       [](EngineState* s) {
         auto* m = s->add_meetings();
         m->set_day("2024-01-01");
         m->add_participants("a");
         m->add_participants("b");
         m->set_status(LeaderMeeting::HELD);
         m->mutable_occurred_at()->set_seconds(1'712'534'400);  // 2024-04-08
       },
       "].occurred_at: not on the meeting's day 2024-01-01"},
      {"series without figures",
       [](EngineState* s) { s->mutable_trade_series(0)->clear_figures(); },
       "trade_series[0].figures: none"},
      {"flow unspecified",
       [](EngineState* s) {
         s->mutable_trade_series(0)->set_flow(TradeFigure::FLOW_UNSPECIFIED);
       },
       "trade_series[0].flow: 0 is not a known value"},
      {"unknown peace status",
       [](EngineState* s) {
         s->mutable_peace_processes(0)->set_status(
             static_cast<PeaceTalkUpdate::Status>(8));
       },
       "peace_processes[0].status: 8 is not a known value"},
  };
  for (const BadContent& bad : cases) {
    SCOPED_TRACE(bad.name);
    EngineState state = ParsedSnapshot();
    ASSERT_GT(state.meetings_size(), 0);
    ASSERT_GT(state.trade_series_size(), 0);
    ASSERT_GT(state.peace_processes_size(), 0);
    bad.alter(&state);
    EXPECT_THAT(engine_.LoadState(AlertEngine::SealStateForTesting(state)),
                StatusIs(absl::StatusCode::kDataLoss,
                         ::testing::AllOf(HasSubstr("engine snapshot: "),
                                          HasSubstr(bad.message))));
  }
  ExpectUnchanged();
}

}  // namespace
}  // namespace dipwire::server
