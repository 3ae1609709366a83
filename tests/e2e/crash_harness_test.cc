// Crash-safety harness: high-rate PublishStream ingest with live subscribers,
// kill -9 of the real dipwired at a random moment, restart on the same data
// directory, and then the checks a newsroom relies on:
//   (a) every event whose PublishResponse the publisher received is stored,
//       exactly once, under the sequence the response named;
//   (b) the alert history equals what a fresh in-process AlertEngine derives
//       from the stored events in stored order (same ids, same order, same
//       content), and the acknowledged alert ids are those;
//   (c) each subscriber, resuming after its last cursor, sees every alert of
//       its filter exactly once: concatenated across all cycles, what it
//       received equals ListAlerts with the same filter.
// Publishers re-send the events whose responses were lost (as an ingest
// script retries them) and a few acknowledged ones (which must come back
// DUPLICATE with the original answer).
//
// Bounded for CI; run it longer locally with, e.g.,
//   DIPWIRE_CRASH_CYCLES=50 DIPWIRE_CRASH_SECONDS=600 ./crash_harness_test
// DIPWIRE_CRASH_SEED=N repeats the events and the kill delays of a run (the
// interleaving of threads, and so the exact kill point, still varies).

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "dipwire/v1/alerts.pb.h"
#include "dipwire/v1/events.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "server/alert_engine.h"
#include "server/filter.h"
#include "tests/testing/dipwired_process.h"
#include "tests/testing/status_matchers.h"

namespace dipwire {
namespace {

using ::dipwire::testing::DipwiredProcess;
using ::dipwire::testing::IsOk;
using ::dipwire::testing::NewTempDir;
using ::google::protobuf::util::MessageDifferencer;
using ::google::protobuf::util::TimeUtil;

// Defaults keep the test at about a minute in a Debug build, and within a
// few minutes under ASan+UBSan: the ingest of a cycle is bounded in wall
// time, so a slower build checks fewer events, not for longer.
constexpr int kDefaultCycles = 8;
constexpr int kDefaultSeconds = 60;
// The ingest of a cycle runs this long before the kill (uniform, ms).
constexpr int kMinKillDelayMs = 100;
constexpr int kMaxKillDelayMs = 1500;

constexpr int kPublishers = 2;
// Events per PublishRequest: uniform in 1..kMaxBatchEvents.
constexpr int kMaxBatchEvents = 40;
// Requests a publisher sends ahead of the responses it has received.
constexpr size_t kMaxBatchesInFlight = 128;
// Acknowledged events a publisher re-sends per cycle, at most one a batch.
constexpr int kDuplicateResendsPerCycle = 20;

// Bounds of the waits.
constexpr absl::Duration kStartTimeout = absl::Seconds(120);
constexpr absl::Duration kStopTimeout = absl::Seconds(30);
constexpr absl::Duration kCallTimeout = absl::Seconds(60);
// How long streams may take to end once the server is killed, or to drain
// to the head in the final phase.
constexpr absl::Duration kStreamEndTimeout = absl::Seconds(60);
constexpr absl::Duration kDrainTimeout = absl::Seconds(180);
constexpr absl::Duration kNextTimeout = absl::Milliseconds(250);
// At the head, a subscriber waits this long for a heartbeat (the interval
// is 1 s) to show that nothing else follows.
constexpr absl::Duration kQuietTimeout = absl::Seconds(5);
// Bounds every page walk.
constexpr int kMaxPages = 1'000'000;
// Failures reported in detail per check; the rest are counted.
constexpr int kMaxReportedFailures = 10;

// Subscribers: one per filter (DESIGN.md, "Filter language").
struct SubscriberSpec {
  const char* name;
  const char* filter;
};
constexpr std::array<SubscriberSpec, 3> kSubscriberSpecs = {{
    {"all", ""},
    {"new-meetings", "type = LEADER_MEETING_NEW"},
    {"china", "countries:CHN"},
}};

// 1,234,567 -> "1,234,567".
std::string Count(int64_t n) {
  std::string digits = absl::StrCat(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return n < 0 ? "-" + out : out;
}

int64_t EnvInt(const char* name, int64_t fallback) {
  // Read before the test starts any thread.
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
  int64_t parsed = 0;
  if (value == nullptr || !absl::SimpleAtoi(value, &parsed)) return fallback;
  return parsed;
}

google::protobuf::Timestamp Seconds(int64_t unix_seconds) {
  return TimeUtil::SecondsToTimestamp(unix_seconds);
}

// ---------------------------------------------------------------------------
// Event generation

struct ActorSpec {
  const char* name;
  const char* country;
  v1::Actor::Role role;
};
constexpr std::array<ActorSpec, 12> kActors = {{
    {"Vladimir Putin", "RUS", v1::Actor::HEAD_OF_STATE},
    {"Xi Jinping", "CHN", v1::Actor::HEAD_OF_STATE},
    {"Sergei Lavrov", "RUS", v1::Actor::FOREIGN_MINISTER},
    {"Wang Yi", "CHN", v1::Actor::FOREIGN_MINISTER},
    {"Antony Blinken", "USA", v1::Actor::FOREIGN_MINISTER},
    {"Volodymyr Zelensky", "UKR", v1::Actor::HEAD_OF_STATE},
    {"Ignazio Cassis", "CHE", v1::Actor::FOREIGN_MINISTER},
    {"Narendra Modi", "IND", v1::Actor::HEAD_OF_GOVERNMENT},
    {"Recep Tayyip Erdogan", "TUR", v1::Actor::HEAD_OF_STATE},
    {"Olaf Scholz", "DEU", v1::Actor::HEAD_OF_GOVERNMENT},
    {"Li Hui", "CHN", v1::Actor::ENVOY},
    {"Mauro Vieira", "BRA", v1::Actor::ROLE_UNSPECIFIED},
}};
constexpr std::array<const char*, 8> kCities = {
    "Beijing",   "Moscow", "Geneva", "Istanbul",
    "New Delhi", "Berlin", "Kyiv",   "Washington"};
constexpr std::array<const char*, 5> kOutlets = {"Reuters", "AP", "TASS",
                                                 "Xinhua", "AFP"};
constexpr std::array<const char*, 8> kCountries = {"RUS", "CHN", "UKR", "USA",
                                                   "CHE", "IND", "TUR", "BRA"};

struct SeriesSpec {
  const char* country_a;
  const char* country_b;
  v1::TradeFigure::Flow flow;
  const char* reporter;
};
constexpr std::array<SeriesSpec, 6> kSeries = {{
    {"CHN", "RUS", v1::TradeFigure::TOTAL, "China customs"},
    {"CHN", "USA", v1::TradeFigure::TOTAL, "US Census Bureau"},
    {"CHN", "RUS", v1::TradeFigure::EXPORTS, "China customs"},
    {"RUS", "CHN", v1::TradeFigure::EXPORTS, "china  CUSTOMS"},
    {"IND", "RUS", v1::TradeFigure::TOTAL, "Indian commerce ministry"},
    {"TUR", "RUS", v1::TradeFigure::IMPORTS, "TurkStat"},
}};
constexpr int kPeaceProcesses = 6;

// 2024-01-01T00:00:00Z: reports are dated from here on, one second apart.
constexpr int64_t kBaseUnixSeconds = 1'704'067'200;

// Generates one publisher's events: meetings announced and later held (or
// postponed, moved, cancelled), trade figures of a few series (new years,
// revisions, repeats; growing values, so records keep coming) and
// peace-talk status changes. Valid per DESIGN.md. Event ids are
// "p<publisher>-<n>". Not thread-safe.
class EventGenerator {
 public:
  EventGenerator(int publisher, uint64_t seed)
      : publisher_(publisher), rng_(seed) {}

  v1::DiplomaticEvent Next() {
    v1::DiplomaticEvent event;
    event.set_event_id(absl::StrCat("p", publisher_, "-", count_));
    // Publishers interleave their report times, so the families they share
    // (trade series, peace processes) see some stale reports too.
    *event.mutable_reported_at() =
        Seconds(kBaseUnixSeconds + count_ * 2 + publisher_);
    event.mutable_source()->set_outlet(Pick(kOutlets));
    event.set_summary(absl::StrCat("generated report ", count_));
    ++count_;
    const int kind = Uniform(0, 99);
    if (kind < 40) {
      Meeting(&event);
    } else if (kind < 72) {
      Trade(&event);
    } else {
      PeaceTalk(&event);
    }
    return event;
  }

 private:
  int Uniform(int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
  }
  template <typename T, size_t N>
  T Pick(const std::array<T, N>& values) {
    return values[static_cast<size_t>(Uniform(0, static_cast<int>(N) - 1))];
  }

  void Meeting(v1::DiplomaticEvent* event) {
    constexpr size_t kMaxOpenMeetings = 40;
    if (!open_.empty() &&
        (open_.size() >= kMaxOpenMeetings || Uniform(0, 1) == 0)) {
      UpdateMeeting(event);
      return;
    }
    event->set_cameo_code("042");
    v1::LeaderMeeting* meeting = event->mutable_meeting();
    if (Uniform(0, 4) > 0) {
      meeting->set_meeting_id(absl::StrCat("m", publisher_, "-", meetings_));
    }
    ++meetings_;
    std::array<size_t, kActors.size()> order{};
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng_);
    const int participants = Uniform(2, 3);
    for (int i = 0; i < participants; ++i) {
      const ActorSpec& spec = kActors[order[static_cast<size_t>(i)]];
      v1::Actor* actor = meeting->add_participants();
      actor->set_name(spec.name);
      actor->set_country(spec.country);
      actor->set_role(spec.role);
    }
    meeting->set_host_country(meeting->participants(0).country());
    meeting->set_city(Pick(kCities));
    meeting->set_status(Uniform(0, 1) == 0 ? v1::LeaderMeeting::EXPECTED
                                           : v1::LeaderMeeting::SCHEDULED);
    meeting->add_topics("trade");
    if (Uniform(0, 1) == 0) meeting->add_topics("security");
    *event->mutable_occurred_at() = Seconds(
        kBaseUnixSeconds + 86'400LL * (30 + Uniform(0, 300)) + 3600LL * 9);
    open_.push_back(*event);
  }

  void UpdateMeeting(v1::DiplomaticEvent* event) {
    const auto which =
        static_cast<size_t>(Uniform(0, static_cast<int>(open_.size()) - 1));
    v1::DiplomaticEvent& last = open_[which];
    const std::string id = event->event_id();
    const google::protobuf::Timestamp reported_at = event->reported_at();
    const std::string outlet = event->source().outlet();
    *event = last;
    event->set_event_id(id);
    *event->mutable_reported_at() = reported_at;
    event->mutable_source()->set_outlet(outlet);
    v1::LeaderMeeting* meeting = event->mutable_meeting();
    const int roll = Uniform(0, 99);
    bool closed = false;
    if (roll < 50) {
      meeting->set_status(v1::LeaderMeeting::HELD);
      closed = true;
    } else if (roll < 65) {
      meeting->set_status(v1::LeaderMeeting::POSTPONED);
      if (!meeting->meeting_id().empty()) {
        // Moved to another day: only a meeting with an id keeps its
        // identity across days.
        event->mutable_occurred_at()->set_seconds(
            event->occurred_at().seconds() + 86'400LL * Uniform(1, 5));
      }
    } else if (roll < 80) {
      meeting->set_status(v1::LeaderMeeting::SCHEDULED);
    } else if (roll < 90) {
      meeting->set_status(v1::LeaderMeeting::CANCELLED);
      closed = true;
    }  // else: the same report again, which yields no alert
    if (Uniform(0, 6) == 0) meeting->set_city(Pick(kCities));
    if (closed) {
      open_[which] = std::move(open_.back());
      open_.pop_back();
    } else {
      last = *event;
    }
  }

  void Trade(v1::DiplomaticEvent* event) {
    const auto s =
        static_cast<size_t>(Uniform(0, static_cast<int>(kSeries.size()) - 1));
    const SeriesSpec& spec = kSeries[s];
    v1::TradeFigure* trade = event->mutable_trade();
    trade->set_country_a(spec.country_a);
    trade->set_country_b(spec.country_b);
    trade->set_flow(spec.flow);
    trade->set_reporter(spec.reporter);
    if (last_figure_[s].second > 0 && Uniform(0, 19) == 0) {
      // The same figure again: no alert.
      trade->set_year(last_figure_[s].first);
      trade->set_value_usd(last_figure_[s].second);
    } else {
      const int year = 2000 + Uniform(0, 29);
      const double growth = 1.0 + static_cast<double>(figures_[s]) / 200.0;
      const double noise = Uniform(700, 1300) / 1000.0;
      trade->set_year(year);
      trade->set_value_usd(
          static_cast<int64_t>((year - 1990) * 1e9 * growth * noise));
    }
    ++figures_[s];
    last_figure_[s] = {trade->year(), trade->value_usd()};
    *event->mutable_occurred_at() =
        Seconds(kBaseUnixSeconds - 86'400LL * 365 * (2024 - trade->year()));
  }

  void PeaceTalk(v1::DiplomaticEvent* event) {
    const auto process = static_cast<size_t>(Uniform(0, kPeaceProcesses - 1));
    v1::PeaceTalkUpdate* talk = event->mutable_peace_talk();
    // Ids compare after trimming and folding case.
    talk->set_process_id(Uniform(0, 9) == 0 ? absl::StrCat(" PEACE-", process)
                                            : absl::StrCat("peace-", process));
    talk->set_title(absl::StrCat("Peace process ", process));
    talk->set_status(static_cast<v1::PeaceTalkUpdate::Status>(Uniform(1, 7)));
    talk->add_parties(kCountries[process]);
    talk->add_parties(kCountries[process + 1]);
    talk->set_venue_country(Uniform(0, 1) == 0 ? "CHE" : "TUR");
    *event->mutable_occurred_at() = event->reported_at();
  }

  const int publisher_;
  std::mt19937_64 rng_;
  int64_t count_ = 0;
  int meetings_ = 0;
  std::vector<v1::DiplomaticEvent> open_;  // the last report of each
  std::array<int64_t, kSeries.size()> figures_{};
  std::array<std::pair<int, int64_t>, kSeries.size()> last_figure_{};
};

// ---------------------------------------------------------------------------
// Publishers

// One generated event and what the publisher learned about it.
struct TrackedEvent {
  v1::DiplomaticEvent event;
  // A PublishResponse named it (ACCEPTED or DUPLICATE).
  bool acked = false;
  uint64_t sequence = 0;
  std::vector<std::string> alert_ids;
  // Sent again after its response was lost.
  bool resent = false;
};

// What one PublishStream session of a publisher achieved.
struct SessionStats {
  int64_t requests_sent = 0;
  int64_t requests_answered = 0;
  // Events acknowledged for the first time.
  int64_t acked = 0;
  // Events of earlier sessions sent again because no response arrived.
  int64_t resent = 0;
  // ... of which the server had committed before the crash (DUPLICATE).
  int64_t resent_were_stored = 0;
  // Acknowledged events sent again, answered DUPLICATE with the original
  // sequence and alert ids.
  int64_t duplicates_checked = 0;
  int64_t error_responses = 0;
  // From the start of the session to its first response (infinite when
  // none came).
  absl::Duration first_response = absl::InfiniteDuration();
};

// A publisher: an event generator plus the ledger of every event it sent,
// driving one PublishStream session at a time from two threads (one sends,
// one receives). Thread-safe.
class Publisher {
 public:
  Publisher(int index, uint64_t seed) : generator_(index, seed), rng_(seed) {}

  // Crash mode: sends batches (first the events of earlier sessions that
  // were not acknowledged, a few acknowledged ones, then new events) as fast
  // as flow control allows, until the stream breaks.
  SessionStats RunUntilBroken(client::Client& client) {
    return RunSession(client, std::nullopt);
  }

  // Final mode: sends every event not yet acknowledged (and a few
  // acknowledged ones), waits for every response and finishes the call.
  SessionStats RunToCompletion(client::Client& client) {
    std::vector<std::vector<size_t>> plan;
    {
      absl::MutexLock lock(&mu_);
      duplicate_budget_ = kDuplicateResendsPerCycle;
      while (!retry_.empty()) {
        std::vector<size_t> batch;
        while (!retry_.empty() && batch.size() < kMaxBatchEvents) {
          batch.push_back(retry_.front());
          retry_.pop_front();
        }
        plan.push_back(std::move(batch));
      }
      for (auto& batch : plan) AddAckedResendLocked(&batch);
      if (plan.empty()) {
        std::vector<size_t> batch;
        AddAckedResendLocked(&batch);
        if (!batch.empty()) plan.push_back(std::move(batch));
      }
    }
    return RunSession(client, std::move(plan));
  }

  // Calls f(const TrackedEvent&) for every event sent so far. Not while a
  // session runs.
  template <typename F>
  void ForEachEvent(F f) const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    for (const TrackedEvent& tracked : events_) f(tracked);
  }

  size_t unacked() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return retry_.size();
  }

 private:
  SessionStats RunSession(client::Client& client,
                          std::optional<std::vector<std::vector<size_t>>> plan)
      ABSL_LOCKS_EXCLUDED(mu_) {
    SessionStats stats;
    auto session = client.PublishStream();
    EXPECT_THAT(session, IsOk());
    if (!session.ok()) return stats;
    {
      absl::MutexLock lock(&mu_);
      broken_ = false;
      in_flight_.clear();
      if (!plan.has_value()) duplicate_budget_ = kDuplicateResendsPerCycle;
    }
    const absl::Time started = absl::Now();
    std::thread sender([&] { SendLoop(**session, plan, &stats); });
    const int64_t expected =
        plan.has_value() ? static_cast<int64_t>(plan->size()) : -1;
    while (expected < 0 || stats.requests_answered < expected) {
      v1::PublishResponse response;
      const absl::StatusOr<bool> received = (*session)->Receive(&response);
      if (!received.ok() || !*received) break;
      if (stats.requests_answered == 0) {
        stats.first_response = absl::Now() - started;
      }
      absl::MutexLock lock(&mu_);
      if (in_flight_.empty()) {
        ADD_FAILURE() << "a PublishResponse without a request: "
                      << response.ShortDebugString();
        break;
      }
      HandleResponseLocked(in_flight_.front(), response, &stats);
      in_flight_.pop_front();
      ++stats.requests_answered;
    }
    {
      absl::MutexLock lock(&mu_);
      broken_ = true;  // wakes the sender if it waits for room
    }
    sender.join();
    if (plan.has_value()) {
      EXPECT_EQ(stats.requests_answered, expected);
      EXPECT_THAT((*session)->Finish(), IsOk());
    }
    session->reset();  // cancels a broken call
    absl::MutexLock lock(&mu_);
    // No response: the publisher cannot know whether these were stored, and
    // sends them again in the next session.
    for (const std::vector<size_t>& batch : in_flight_) {
      for (size_t index : batch) RetryLocked(index);
    }
    in_flight_.clear();
    return stats;
  }

  void SendLoop(client::PublishSession& session,
                const std::optional<std::vector<std::vector<size_t>>>& plan,
                SessionStats* stats) ABSL_LOCKS_EXCLUDED(mu_) {
    size_t planned = 0;
    while (true) {
      v1::PublishRequest request;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](Publisher* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) {
              return p->broken_ || p->in_flight_.size() < kMaxBatchesInFlight;
            },
            this));
        if (broken_) return;
        std::vector<size_t> batch;
        if (plan.has_value()) {
          if (planned == plan->size()) return;
          batch = (*plan)[planned++];
        } else {
          batch = NextBatchLocked();
        }
        for (size_t index : batch) {
          TrackedEvent& tracked = events_[index];
          if (!tracked.acked && tracked.resent) ++stats->resent;
          *request.add_events() = tracked.event;
        }
        in_flight_.push_back(std::move(batch));
        ++stats->requests_sent;
      }
      if (!session.Send(request).ok()) return;  // the stream broke
    }
  }

  // A batch of a crash-mode session: retries first, then new events.
  std::vector<size_t> NextBatchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    mu_.AssertHeld();
    const size_t size =
        std::uniform_int_distribution<size_t>(1, kMaxBatchEvents)(rng_);
    std::vector<size_t> batch;
    while (!retry_.empty() && batch.size() < size) {
      batch.push_back(retry_.front());
      retry_.pop_front();
    }
    if (std::uniform_int_distribution<int>(0, 9)(rng_) == 0) {
      AddAckedResendLocked(&batch);
    }
    while (batch.size() < size) {
      TrackedEvent tracked;
      tracked.event = generator_.Next();
      events_.push_back(std::move(tracked));
      batch.push_back(events_.size() - 1);
    }
    return batch;
  }

  // Adds one random acknowledged event to `batch`, while the session's
  // budget lasts.
  void AddAckedResendLocked(std::vector<size_t>* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    mu_.AssertHeld();
    if (acked_.empty() || duplicate_budget_ <= 0) return;
    --duplicate_budget_;
    batch->push_back(acked_[std::uniform_int_distribution<size_t>(
        0, acked_.size() - 1)(rng_)]);
  }

  void HandleResponseLocked(const std::vector<size_t>& batch,
                            const v1::PublishResponse& response,
                            SessionStats* stats)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    mu_.AssertHeld();
    if (response.has_error()) {
      // Only UNAVAILABLE (store busy) is acceptable: every event here is
      // valid and keeps its content under its id.
      ++stats->error_responses;
      EXPECT_EQ(response.error().code(),
                static_cast<int>(absl::StatusCode::kUnavailable))
          << response.error().message();
      for (size_t index : batch) RetryLocked(index);
      return;
    }
    EXPECT_EQ(static_cast<size_t>(response.results_size()), batch.size())
        << response.ShortDebugString();
    const size_t n =
        std::min(static_cast<size_t>(response.results_size()), batch.size());
    for (size_t i = 0; i < n; ++i) {
      const v1::PublishResult& result = response.results(static_cast<int>(i));
      TrackedEvent& tracked = events_[batch[i]];
      EXPECT_EQ(result.event_id(), tracked.event.event_id());
      if (tracked.acked) {
        // A re-sent acknowledged event: the original answer, nothing stored.
        EXPECT_EQ(result.outcome(), v1::PublishResult::DUPLICATE)
            << "acknowledged event " << tracked.event.event_id()
            << " (sequence " << tracked.sequence << ") was stored again";
        EXPECT_EQ(result.sequence(), tracked.sequence)
            << tracked.event.event_id();
        EXPECT_EQ(std::vector<std::string>(result.alert_ids().begin(),
                                           result.alert_ids().end()),
                  tracked.alert_ids)
            << tracked.event.event_id();
        ++stats->duplicates_checked;
        continue;
      }
      EXPECT_TRUE(result.outcome() == v1::PublishResult::ACCEPTED ||
                  result.outcome() == v1::PublishResult::DUPLICATE)
          << result.ShortDebugString();
      if (result.outcome() == v1::PublishResult::DUPLICATE) {
        // Only an event whose earlier response was lost can already be
        // stored.
        EXPECT_TRUE(tracked.resent)
            << tracked.event.event_id() << " was new but came back DUPLICATE";
        ++stats->resent_were_stored;
      }
      tracked.acked = true;
      tracked.sequence = result.sequence();
      tracked.alert_ids.assign(result.alert_ids().begin(),
                               result.alert_ids().end());
      acked_.push_back(batch[i]);
      ++stats->acked;
    }
    // Events of a batch cut short stay unacknowledged.
    for (size_t i = n; i < batch.size(); ++i) RetryLocked(batch[i]);
  }

  // Queues an event without a response to be sent again.
  void RetryLocked(size_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    mu_.AssertHeld();
    TrackedEvent& tracked = events_[index];
    if (tracked.acked) return;
    tracked.resent = true;
    retry_.push_back(index);
  }

  mutable absl::Mutex mu_;
  EventGenerator generator_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  // Every event sent, in generation order.
  std::vector<TrackedEvent> events_ ABSL_GUARDED_BY(mu_);
  // Indexes into events_: the acknowledged ones, and those sent whose
  // response never came (to send again).
  std::vector<size_t> acked_ ABSL_GUARDED_BY(mu_);
  std::deque<size_t> retry_ ABSL_GUARDED_BY(mu_);
  // The session's requests without a response yet, in order.
  std::deque<std::vector<size_t>> in_flight_ ABSL_GUARDED_BY(mu_);
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  int duplicate_budget_ ABSL_GUARDED_BY(mu_) = 0;
};

// ---------------------------------------------------------------------------
// Subscribers

// One subscriber: a filter and every alert it received, across all cycles.
struct Subscriber {
  std::string name;
  std::string filter;
  std::vector<std::string> ids;
  std::string last_cursor;
};

struct SubscribeStats {
  int64_t received = 0;
  absl::Status end;
};

// Subscribes after `sub->last_cursor` (EARLIEST at first) and reads.
// Without `target`, until the stream ends (the server is killed) or
// `deadline`. With `target`, until that many alerts were received in all,
// then until a heartbeat shows the stream is quiet at the head.
SubscribeStats RunSubscriber(client::Client& client, Subscriber* sub,
                             std::optional<size_t> target,
                             absl::Time deadline) {
  SubscribeStats stats;
  v1::SubscribeRequest request;
  request.set_filter(sub->filter);
  if (sub->last_cursor.empty()) {
    request.set_position(v1::SubscribeRequest::EARLIEST);
  } else {
    request.set_after_cursor(sub->last_cursor);
  }
  request.mutable_heartbeat_interval()->set_seconds(1);
  auto stream = client.Subscribe(request);
  EXPECT_THAT(stream, IsOk());
  if (!stream.ok()) return stats;
  std::optional<absl::Time> quiet_by;
  while (true) {
    const absl::Time now = absl::Now();
    if (now > deadline || (quiet_by.has_value() && now > *quiet_by)) {
      stats.end = absl::DeadlineExceededError("harness deadline");
      break;
    }
    if (target.has_value() && !quiet_by.has_value() &&
        sub->ids.size() >= *target) {
      quiet_by = now + kQuietTimeout;
    }
    v1::SubscribeResponse response;
    const absl::StatusOr<bool> next = (*stream)->Next(&response, kNextTimeout);
    if (!next.ok() &&
        next.status().code() == absl::StatusCode::kDeadlineExceeded) {
      continue;
    }
    if (!next.ok() || !*next) {
      stats.end = next.status();
      break;
    }
    for (const v1::Alert& alert : response.alerts()) {
      sub->ids.push_back(alert.alert_id());
      sub->last_cursor = alert.cursor();
      ++stats.received;
    }
    if (quiet_by.has_value() && response.alerts_size() == 0) break;
  }
  (*stream)->Cancel();
  return stats;
}

// ---------------------------------------------------------------------------
// Reading the whole history

struct StoredLog {
  std::vector<v1::DiplomaticEvent> events;
  std::vector<uint64_t> sequences;
};

absl::StatusOr<StoredLog> ListAllEvents(client::Client& client) {
  StoredLog log;
  v1::ListEventsRequest request;
  request.set_page_size(1000);
  for (int page = 0; page < kMaxPages; ++page) {
    absl::StatusOr<v1::ListEventsResponse> response =
        client.ListEvents(request);
    if (!response.ok()) return response.status();
    if (response->sequences_size() != response->events_size()) {
      return absl::InternalError("ListEvents: sequences do not match events");
    }
    for (int i = 0; i < response->events_size(); ++i) {
      log.events.push_back(response->events(i));
      log.sequences.push_back(response->sequences(i));
    }
    if (response->next_page_token().empty()) return log;
    request.set_page_token(response->next_page_token());
  }
  return absl::InternalError("ListEvents: too many pages");
}

absl::StatusOr<std::vector<v1::Alert>> ListAllAlerts(
    client::Client& client, const std::string& filter) {
  std::vector<v1::Alert> alerts;
  v1::ListAlertsRequest request;
  request.set_filter(filter);
  request.set_page_size(1000);
  for (int page = 0; page < kMaxPages; ++page) {
    absl::StatusOr<v1::ListAlertsResponse> response =
        client.ListAlerts(request);
    if (!response.ok()) return response.status();
    alerts.insert(alerts.end(), response->alerts().begin(),
                  response->alerts().end());
    if (response->next_page_token().empty()) return alerts;
    request.set_page_token(response->next_page_token());
  }
  return absl::InternalError("ListAlerts: too many pages");
}

std::vector<std::string> Ids(const std::vector<v1::Alert>& alerts) {
  std::vector<std::string> ids;
  ids.reserve(alerts.size());
  for (const v1::Alert& alert : alerts) ids.push_back(alert.alert_id());
  return ids;
}

// The alert as derivation defines it: without the cursor (the log's) and
// created_at (the commit time, which ListEvents does not return).
v1::Alert Derivable(v1::Alert alert) {
  alert.clear_cursor();
  alert.clear_created_at();
  return alert;
}

// ---------------------------------------------------------------------------
// The harness

class CrashHarnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cycles_ = static_cast<int>(EnvInt("DIPWIRE_CRASH_CYCLES", kDefaultCycles));
    budget_ = absl::Seconds(EnvInt("DIPWIRE_CRASH_SECONDS", kDefaultSeconds));
    seed_ = static_cast<uint64_t>(
        EnvInt("DIPWIRE_CRASH_SEED",
               static_cast<int64_t>(std::random_device()() % 1'000'000)));
    std::cout << "crash harness: seed " << seed_
              << " (DIPWIRE_CRASH_SEED=" << seed_
              << " repeats its events and kill delays), up to " << cycles_
              << " cycles in " << absl::FormatDuration(budget_) << std::endl;
    data_dir_ = NewTempDir("crash-harness");
    for (int p = 0; p < kPublishers; ++p) {
      publishers_.push_back(std::make_unique<Publisher>(
          p, seed_ * 1000 + static_cast<uint64_t>(p) + 1));
    }
    for (const SubscriberSpec& spec : kSubscriberSpecs) {
      subscribers_.push_back(Subscriber{spec.name, spec.filter, {}, {}});
    }
  }

  void TearDown() override {
    client_.reset();
    if (server_ != nullptr) {
      server_->Stop(SIGKILL, kStopTimeout).IgnoreError();  // after a failure
    }
  }

  void StartServer() {
    auto server = DipwiredProcess::Start(data_dir_, {"--log-level=warning"},
                                         kStartTimeout);
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    client::ClientOptions options;
    options.server = server_->address();
    options.call_timeout = kCallTimeout;
    auto client = client::Client::Connect(options);
    ASSERT_THAT(client, IsOk());
    client_ = *std::move(client);
  }

  // What CheckHistory found.
  struct HistoryFigures {
    int64_t events = 0;
    int64_t alerts = 0;
    int64_t acked = 0;
    // Stored although no response named them (lost with the crash).
    int64_t stored_unacked = 0;
  };

  // Checks (a), (b) and the subscribers' prefixes (c) against the server.
  // `final`: every event sent must by now be acknowledged, and each
  // subscriber's alerts must be its whole filtered history.
  HistoryFigures CheckHistory(bool final) {
    HistoryFigures figures;
    absl::StatusOr<StoredLog> log = ListAllEvents(*client_);
    EXPECT_THAT(log, IsOk());
    if (!log.ok()) return figures;
    figures.events = static_cast<int64_t>(log->events.size());

    // Everything the publishers sent, by id.
    absl::flat_hash_map<std::string, TrackedEvent> sent;
    for (const auto& publisher : publishers_) {
      publisher->ForEachEvent([&](const TrackedEvent& tracked) {
        sent.emplace(tracked.event.event_id(), tracked);
      });
    }

    // (a) The log is 1..N; every stored event was sent, with that content,
    // once; every acknowledged event is stored at its acknowledged sequence.
    int failures = 0;
    auto report = [&failures](const std::string& what) {
      if (++failures <= kMaxReportedFailures) ADD_FAILURE() << what;
    };
    absl::flat_hash_map<std::string, uint64_t> stored;
    for (size_t i = 0; i < log->events.size(); ++i) {
      const v1::DiplomaticEvent& event = log->events[i];
      const uint64_t sequence = log->sequences[i];
      if (sequence != i + 1) {
        report(absl::StrCat("event ", event.event_id(), " at position ", i + 1,
                            " has sequence ", sequence));
      }
      if (!stored.emplace(event.event_id(), sequence).second) {
        report(absl::StrCat("event ", event.event_id(),
                            " is stored twice: ", "sequences ",
                            stored[event.event_id()], " and ", sequence));
      }
      auto it = sent.find(event.event_id());
      if (it == sent.end()) {
        report(
            absl::StrCat("stored event ", event.event_id(), " was never sent"));
        continue;
      }
      if (!MessageDifferencer::Equals(event, it->second.event)) {
        report(absl::StrCat(
            "stored event ", event.event_id(),
            " differs from what was sent: ", event.ShortDebugString(), " vs ",
            it->second.event.ShortDebugString()));
      }
      if (!it->second.acked) ++figures.stored_unacked;
    }
    for (const auto& [id, tracked] : sent) {
      if (!tracked.acked) {
        if (final)
          report(absl::StrCat("event ", id, " was never acknowledged"));
        continue;
      }
      ++figures.acked;
      auto it = stored.find(id);
      if (it == stored.end()) {
        report(absl::StrCat("acknowledged event ", id, " (sequence ",
                            tracked.sequence, ") is not stored"));
      } else if (it->second != tracked.sequence) {
        report(absl::StrCat("acknowledged event ", id, " has sequence ",
                            it->second, " but was acknowledged with ",
                            tracked.sequence));
      }
    }

    // (b) The alert history is what a fresh engine derives from the stored
    // events, in stored order: the path the server's own replay takes
    // (server/publish_pipeline.cc, Recover).
    absl::StatusOr<std::vector<v1::Alert>> alerts = ListAllAlerts(*client_, "");
    EXPECT_THAT(alerts, IsOk());
    if (!alerts.ok()) return figures;
    figures.alerts = static_cast<int64_t>(alerts->size());
    server::AlertEngine engine;
    std::vector<v1::Alert> derived;
    absl::flat_hash_map<uint64_t, std::vector<std::string>> derived_ids;
    for (size_t i = 0; i < log->events.size(); ++i) {
      for (v1::Alert& alert : engine.Apply(server::LogEntry{
               log->sequences[i], &log->events[i], absl::UnixEpoch()})) {
        derived_ids[log->sequences[i]].push_back(alert.alert_id());
        derived.push_back(Derivable(std::move(alert)));
      }
    }
    if (derived.size() != alerts->size()) {
      report(absl::StrCat("the alert history holds ", alerts->size(),
                          " alerts; a replay of the ", log->events.size(),
                          " stored events derives ", derived.size()));
    }
    for (size_t i = 0; i < std::min(derived.size(), alerts->size()); ++i) {
      const v1::Alert stored_alert = Derivable((*alerts)[i]);
      if (!MessageDifferencer::Equals(stored_alert, derived[i])) {
        report(absl::StrCat(
            "alert #", i + 1,
            " differs from the replay: ", stored_alert.alert_id(), " ",
            v1::Alert::Type_Name(stored_alert.type()), " \"",
            stored_alert.headline(), "\" vs ", derived[i].alert_id(), " ",
            v1::Alert::Type_Name(derived[i].type()), " \"",
            derived[i].headline(),
            "\"; in full: ", stored_alert.ShortDebugString(), " vs ",
            derived[i].ShortDebugString()));
        break;  // the rest would differ too
      }
    }
    for (size_t i = 1; i < alerts->size(); ++i) {
      if (TimeUtil::TimestampToMicroseconds((*alerts)[i].created_at()) <
          TimeUtil::TimestampToMicroseconds((*alerts)[i - 1].created_at())) {
        report(absl::StrCat("alert ", (*alerts)[i].alert_id(),
                            " was created before the alert it follows"));
        break;
      }
    }
    for (const auto& [id, tracked] : sent) {
      if (!tracked.acked) continue;
      auto it = derived_ids.find(tracked.sequence);
      const std::vector<std::string> expected =
          it == derived_ids.end() ? std::vector<std::string>() : it->second;
      if (tracked.alert_ids != expected) {
        report(absl::StrCat("event ", id, " was acknowledged with ",
                            tracked.alert_ids.size(),
                            " alert ids; the replay "
                            "derives ",
                            expected.size()));
      }
    }
    // What a restart kept is unchanged, cursors and created_at included.
    if (alerts->size() < previous_alerts_.size()) {
      report(absl::StrCat("the alert history shrank from ",
                          previous_alerts_.size(), " to ", alerts->size()));
    }
    for (size_t i = 0; i < std::min(previous_alerts_.size(), alerts->size());
         ++i) {
      if (!MessageDifferencer::Equals(previous_alerts_[i], (*alerts)[i])) {
        report(absl::StrCat("alert #", i + 1, " changed across a restart: ",
                            previous_alerts_[i].ShortDebugString(), " vs ",
                            (*alerts)[i].ShortDebugString()));
        break;
      }
    }

    // (c) Each subscriber received a prefix of its filtered history (all of
    // it at the end), each alert once, in order. The filtered history is the
    // full one through the server's filter code; at the end also what
    // ListAlerts with the subscriber's filter returns (only then, as listing
    // the whole history again per filter and cycle would dominate the run).
    for (const Subscriber& sub : subscribers_) {
      absl::StatusOr<server::Filter> compiled =
          server::Filter::Compile(sub.filter, server::FilterTarget::kAlert);
      EXPECT_THAT(compiled, IsOk()) << sub.filter;
      if (!compiled.ok()) continue;
      std::vector<std::string> expected;
      for (const v1::Alert& alert : *alerts) {
        if (compiled->Matches(alert)) expected.push_back(alert.alert_id());
      }
      if (final) {
        absl::StatusOr<std::vector<v1::Alert>> filtered =
            ListAllAlerts(*client_, sub.filter);
        EXPECT_THAT(filtered, IsOk()) << sub.filter;
        if (!filtered.ok()) continue;
        if (Ids(*filtered) != expected) {
          report(absl::StrCat("ListAlerts with filter \"", sub.filter,
                              "\" returned ", filtered->size(),
                              " alerts; the filter matches ", expected.size(),
                              " of the history"));
        }
        expected = Ids(*filtered);
      }
      const size_t common = std::min(sub.ids.size(), expected.size());
      size_t same = 0;
      while (same < common && sub.ids[same] == expected[same]) ++same;
      const bool ok = final ? sub.ids == expected : same == sub.ids.size();
      if (!ok) {
        report(absl::StrCat(
            "subscriber \"", sub.name, "\" (filter \"", sub.filter,
            "\") received ", sub.ids.size(), " alerts; its history holds ",
            expected.size(), "; they agree on the first ", same,
            same < sub.ids.size()
                ? absl::StrCat("; received #", same + 1, " is ", sub.ids[same])
                : std::string(),
            same < expected.size()
                ? absl::StrCat("; history #", same + 1, " is ", expected[same])
                : std::string()));
      }
    }
    if (failures > kMaxReportedFailures) {
      ADD_FAILURE() << failures - kMaxReportedFailures
                    << " more failures not shown";
    }
    previous_alerts_ = *std::move(alerts);
    return figures;
  }

  int cycles_ = kDefaultCycles;
  absl::Duration budget_;
  uint64_t seed_ = 0;
  std::string data_dir_;
  std::vector<std::unique_ptr<Publisher>> publishers_;
  std::vector<Subscriber> subscribers_;
  std::vector<v1::Alert> previous_alerts_;
  std::unique_ptr<DipwiredProcess> server_;
  std::unique_ptr<client::Client> client_;
};

TEST_F(CrashHarnessTest, AcknowledgedEventsAndAlertsSurviveKillNine) {
  const absl::Time start = absl::Now();
  std::mt19937_64 kill_rng(seed_);
  int cycles = 0;
  int64_t total_resent = 0;
  int64_t total_resent_stored = 0;
  int64_t total_duplicates = 0;
  int64_t events_checked = 0;
  int64_t alerts_checked = 0;

  for (int cycle = 1; cycle <= cycles_ && absl::Now() - start < budget_;
       ++cycle) {
    ASSERT_NO_FATAL_FAILURE(StartServer());
    const absl::Time started = absl::Now();
    if (cycle > 1) {
      SCOPED_TRACE(absl::StrCat("after restart ", cycle - 1, ", seed ", seed_));
      const HistoryFigures figures = CheckHistory(/*final=*/false);
      events_checked += figures.events;
      alerts_checked += figures.alerts;
      std::cout << absl::StrFormat(
                       "  after restart %d: %s events stored (%s acknowledged, "
                       "%s committed without a response), %s alerts checked "
                       "against the replay; checks took %s",
                       cycle - 1, Count(figures.events), Count(figures.acked),
                       Count(figures.stored_unacked), Count(figures.alerts),
                       absl::FormatDuration(absl::Trunc(absl::Now() - started,
                                                        absl::Milliseconds(1))))
                << std::endl;
      if (HasFailure()) break;
    }

    const int delay_ms = std::uniform_int_distribution<int>(
        kMinKillDelayMs, kMaxKillDelayMs)(kill_rng);
    std::vector<SubscribeStats> sub_stats(subscribers_.size());
    std::vector<SessionStats> pub_stats(publishers_.size());
    std::vector<std::thread> threads;
    const absl::Time stream_deadline =
        absl::Now() + absl::Milliseconds(delay_ms) + kStreamEndTimeout;
    for (size_t s = 0; s < subscribers_.size(); ++s) {
      threads.emplace_back([this, s, &sub_stats, stream_deadline] {
        sub_stats[s] = RunSubscriber(*client_, &subscribers_[s], std::nullopt,
                                     stream_deadline);
      });
    }
    for (size_t p = 0; p < publishers_.size(); ++p) {
      threads.emplace_back([this, p, &pub_stats] {
        pub_stats[p] = publishers_[p]->RunUntilBroken(*client_);
      });
    }
    // The crash comes at a random moment of the ingest: waiting for it is
    // the point here, not a synchronization.
    absl::SleepFor(absl::Milliseconds(delay_ms));
    absl::StatusOr<int> exit_code = server_->Stop(SIGKILL, kStopTimeout);
    server_.reset();
    for (std::thread& thread : threads) thread.join();
    client_.reset();
    ASSERT_THAT(exit_code, IsOk());
    EXPECT_EQ(*exit_code, 128 + SIGKILL);
    ++cycles;

    SessionStats sum;
    for (const SessionStats& s : pub_stats) {
      sum.requests_sent += s.requests_sent;
      sum.requests_answered += s.requests_answered;
      sum.acked += s.acked;
      sum.resent += s.resent;
      sum.resent_were_stored += s.resent_were_stored;
      sum.duplicates_checked += s.duplicates_checked;
      sum.error_responses += s.error_responses;
      sum.first_response = std::min(sum.first_response, s.first_response);
    }
    total_resent += sum.resent;
    total_resent_stored += sum.resent_were_stored;
    total_duplicates += sum.duplicates_checked;
    size_t unacked = 0;
    for (const auto& publisher : publishers_) unacked += publisher->unacked();
    std::string subs;
    for (size_t s = 0; s < subscribers_.size(); ++s) {
      absl::StrAppend(&subs, s == 0 ? "" : ", ", subscribers_[s].name, " +",
                      Count(sub_stats[s].received));
      // The kill ends every stream; nothing else may.
      EXPECT_EQ(sub_stats[s].end.code(), absl::StatusCode::kUnavailable)
          << subscribers_[s].name << ": " << sub_stats[s].end;
    }
    std::cout << absl::StrFormat(
                     "cycle %d: kill -9 after %d ms of ingest (first "
                     "response after %s); %s events "
                     "acknowledged in %s of %s requests (%s resent after a "
                     "lost response, %s of them already stored; %s "
                     "acknowledged ones resent as duplicates; %s error "
                     "responses); %s left without a response; subscribers %s",
                     cycle, delay_ms,
                     absl::FormatDuration(absl::Trunc(sum.first_response,
                                                      absl::Milliseconds(1))),
                     Count(sum.acked), Count(sum.requests_answered),
                     Count(sum.requests_sent), Count(sum.resent),
                     Count(sum.resent_were_stored),
                     Count(sum.duplicates_checked), Count(sum.error_responses),
                     Count(static_cast<int64_t>(unacked)), subs)
              << std::endl;
  }
  ASSERT_FALSE(HasFailure());

  // The final, clean phase: restart, check, retry every event still without
  // a response, then let every subscriber drain to the head.
  SCOPED_TRACE(absl::StrCat("final phase, seed ", seed_));
  ASSERT_NO_FATAL_FAILURE(StartServer());
  HistoryFigures figures = CheckHistory(/*final=*/false);
  events_checked += figures.events;
  alerts_checked += figures.alerts;
  ASSERT_FALSE(HasFailure());
  SessionStats final_sum;
  {
    std::vector<SessionStats> pub_stats(publishers_.size());
    std::vector<std::thread> threads;
    for (size_t p = 0; p < publishers_.size(); ++p) {
      threads.emplace_back([this, p, &pub_stats] {
        pub_stats[p] = publishers_[p]->RunToCompletion(*client_);
      });
    }
    for (std::thread& thread : threads) thread.join();
    for (const SessionStats& s : pub_stats) {
      final_sum.acked += s.acked;
      final_sum.resent += s.resent;
      final_sum.resent_were_stored += s.resent_were_stored;
      final_sum.duplicates_checked += s.duplicates_checked;
    }
    total_resent += final_sum.resent;
    total_resent_stored += final_sum.resent_were_stored;
    total_duplicates += final_sum.duplicates_checked;
  }
  std::vector<size_t> targets;
  for (const Subscriber& sub : subscribers_) {
    auto filtered = ListAllAlerts(*client_, sub.filter);
    ASSERT_THAT(filtered, IsOk());
    targets.push_back(filtered->size());
  }
  {
    std::vector<SubscribeStats> sub_stats(subscribers_.size());
    std::vector<std::thread> threads;
    const absl::Time deadline = absl::Now() + kDrainTimeout;
    for (size_t s = 0; s < subscribers_.size(); ++s) {
      threads.emplace_back([this, s, &sub_stats, &targets, deadline] {
        sub_stats[s] =
            RunSubscriber(*client_, &subscribers_[s], targets[s], deadline);
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  figures = CheckHistory(/*final=*/true);
  events_checked += figures.events;
  alerts_checked += figures.alerts;
  std::cout << absl::StrFormat(
                   "final: %s events resent and acknowledged (%s of them "
                   "already stored), %s acknowledged ones resent as "
                   "duplicates; %s events and %s alerts in the log; "
                   "subscribers drained to the head",
                   Count(final_sum.acked), Count(final_sum.resent_were_stored),
                   Count(final_sum.duplicates_checked), Count(figures.events),
                   Count(figures.alerts))
            << std::endl;

  client_.reset();
  absl::StatusOr<int> exit_code = server_->Stop(SIGTERM, kStopTimeout);
  server_.reset();
  ASSERT_THAT(exit_code, IsOk());
  EXPECT_EQ(*exit_code, 0);

  std::string subs;
  for (const Subscriber& sub : subscribers_) {
    absl::StrAppend(&subs, subs.empty() ? "" : ", ", sub.name, " ",
                    Count(static_cast<int64_t>(sub.ids.size())));
  }
  const absl::Duration took =
      absl::Trunc(absl::Now() - start, absl::Milliseconds(100));
  std::cout << absl::StrFormat(
                   "crash harness: %d kill/restart cycles, %s events "
                   "acknowledged and checked, %s alerts, %d subscribers "
                   "(%s alerts received), %s events resent after a lost "
                   "response (%s had been stored), %s duplicate resends, "
                   "%s event and %s alert checks in all, seed %d, %s",
                   cycles, Count(figures.acked), Count(figures.alerts),
                   static_cast<int>(subscribers_.size()), subs,
                   Count(total_resent), Count(total_resent_stored),
                   Count(total_duplicates), Count(events_checked),
                   Count(alerts_checked), seed_, absl::FormatDuration(took))
            << std::endl;
  RecordProperty("cycles", cycles);
  RecordProperty("events", static_cast<int>(figures.acked));
  RecordProperty("alerts", static_cast<int>(figures.alerts));
  RecordProperty("seed", static_cast<int>(seed_));
}

}  // namespace
}  // namespace dipwire
