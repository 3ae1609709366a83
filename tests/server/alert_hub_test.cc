#include "server/alert_hub.h"

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/cursor.h"
#include "server/sqlite_event_store.h"
#include "tests/testing/dipwired_process.h"
#include "tests/testing/failing_event_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/status_matchers.h"

namespace dipwire::server {
namespace {

using ::dipwire::testing::FailingEventStore;
using ::dipwire::testing::FakeClock;
using ::dipwire::testing::IsOk;
using ::dipwire::testing::StatusIs;

constexpr absl::Duration kWait = absl::Seconds(20);

// The starts the tests attach streams with.
StartSpec Earliest() {
  StartSpec start;
  start.kind = StartSpec::Kind::kEarliest;
  return start;
}
// After the alert at `position`; for durable `subscription`, when given,
// which the start moves there (a seek).
StartSpec AfterPosition(uint64_t position, std::string subscription = "") {
  StartSpec start;
  start.kind = StartSpec::Kind::kAfterPosition;
  start.after_position = position;
  start.subscription = std::move(subscription);
  return start;
}
// Where durable `subscription` stands (its head, when it is new).
StartSpec Resume(std::string subscription) {
  StartSpec start;
  start.kind = StartSpec::Kind::kResume;
  start.subscription = std::move(subscription);
  return start;
}

// A Stream that records what the hub sends and acknowledges each write at
// once, as a client reading as fast as it can would.
class RecordingStream final : public AlertHub::Stream {
 public:
  // Attaches this stream to `hub` from `start` (no filter, hourly
  // heartbeats) and, when the hub takes it, gives it its id, which its
  // writes are acknowledged with.
  absl::StatusOr<AlertHub::StreamId> AttachTo(
      AlertHub* hub, const StartSpec& start = StartSpec())
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::StatusOr<AlertHub::StreamId> id =
        hub->Attach(this, Filter(), start, absl::Hours(1));
    if (id.ok()) {
      absl::MutexLock lock(&mu_);
      hub_ = hub;
      id_ = *id;
    }
    return id;
  }

  void Send(std::string bytes) override ABSL_LOCKS_EXCLUDED(mu_) {
    v1::SubscribeResponse response;
    EXPECT_TRUE(response.ParseFromString(bytes));
    AlertHub* hub = nullptr;
    AlertHub::StreamId id = 0;
    {
      absl::MutexLock lock(&mu_);
      // A worker may send before the test has passed the stream its id.
      mu_.Await(absl::Condition(this, &RecordingStream::attached));
      for (const v1::Alert& alert : response.alerts()) {
        ids_.push_back(alert.alert_id());
      }
      hub = hub_;
      id = id_;
    }
    hub->WriteDone(id, true);
  }

  void End(const absl::Status& status) override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    ended_ = true;
    status_ = status;
  }

  // Waits until `count` alerts have arrived; returns their ids.
  std::vector<std::string> AwaitAlerts(size_t count) ABSL_LOCKS_EXCLUDED(mu_) {
    struct Arg {
      const std::vector<std::string>* ids;
      size_t count;
    } arg{&ids_, count};
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(
        absl::Condition(
            +[](Arg* a) { return a->ids->size() >= a->count; }, &arg),
        kWait);
    return ids_;
  }

  // Waits until the hub ended the stream; returns its status.
  absl::Status AwaitEnd() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&ended_), kWait);
    return ended_ ? status_ : absl::DeadlineExceededError("not ended");
  }

  size_t received() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return ids_.size();
  }

 private:
  bool attached() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    mu_.AssertHeld();
    return hub_ != nullptr;
  }

  mutable absl::Mutex mu_;
  AlertHub* hub_ ABSL_GUARDED_BY(mu_) = nullptr;
  AlertHub::StreamId id_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> ids_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

StoredAlert MakeAlert(uint64_t position) {
  StoredAlert stored;
  stored.position = position;
  stored.alert.set_alert_id(absl::StrCat("al-", position, "-0"));
  stored.alert.set_cursor(EncodeCursor(position));
  stored.alert.set_type(v1::Alert::PEACE_TALK_STATUS_CHANGED);
  stored.alert.mutable_event()->set_event_id(absl::StrCat("e", position));
  stored.alert.mutable_created_at()->set_seconds(1'700'000'000);
  return stored;
}

StoredEvent MakeEvent(uint64_t sequence) {
  StoredEvent stored;
  stored.sequence = sequence;
  stored.event.set_event_id(absl::StrCat("e", sequence));
  stored.content_hash = std::string(32, 'h');
  stored.committed_at = absl::FromUnixSeconds(1'700'000'000);
  stored.alert_ids = {absl::StrCat("al-", sequence, "-0")};
  return stored;
}

class AlertHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SqliteEventStoreOptions options;
    options.data_dir = dipwire::testing::NewTempDir("hub");
    auto store = SqliteEventStore::Open(options);
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    failing_ = std::make_unique<FailingEventStore>(store_.get());
  }

  // Appends events 1..n with one alert each, straight to the store.
  void Fill(uint64_t n) {
    std::vector<StoredEvent> events;
    std::vector<StoredAlert> alerts;
    for (uint64_t i = 1; i <= n; ++i) {
      events.push_back(MakeEvent(i));
      alerts.push_back(MakeAlert(i));
    }
    ASSERT_THAT(store_->Append(events, alerts), IsOk());
  }

  FakeClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  std::unique_ptr<SqliteEventStore> store_;
  std::unique_ptr<FailingEventStore> failing_;
};

TEST_F(AlertHubTest, LiveStreamIsServedWhileCatchUpReadsAreStuck) {
  Fill(100);
  AlertHubOptions options;
  options.tail_capacity = 10;  // alerts 91..100 in memory, the rest on disk
  options.live_threads = 1;
  options.catch_up_threads = 1;
  AlertHub hub(failing_.get(), &clock_, options);
  ASSERT_THAT(hub.Start(), IsOk());

  // Two streams from the start: both need the store, whose reads hang.
  failing_->HoldReads();
  RecordingStream behind1;
  RecordingStream behind2;
  for (RecordingStream* stream : {&behind1, &behind2}) {
    ASSERT_THAT(stream->AttachTo(&hub, Earliest()), IsOk());
  }
  ASSERT_TRUE(failing_->AwaitHeldReads(1, kWait));

  // A live stream gets a new alert while the catch-up reads are stuck.
  RecordingStream live;
  auto id = live.AttachTo(&hub);
  ASSERT_THAT(id, IsOk());
  ASSERT_THAT(store_->Append({MakeEvent(101)}, {MakeAlert(101)}), IsOk());
  hub.Publish({std::make_shared<const StoredAlert>(MakeAlert(101))});
  EXPECT_THAT(live.AwaitAlerts(1), ::testing::ElementsAre("al-101-0"));
  EXPECT_EQ(behind1.received() + behind2.received(), 0U);

  // Once the store answers, the streams behind catch up, in order.
  failing_->ReleaseReads();
  std::vector<std::string> expected;
  for (int i = 1; i <= 101; ++i)
    expected.push_back(absl::StrCat("al-", i, "-0"));
  EXPECT_EQ(behind1.AwaitAlerts(101), expected);
  EXPECT_EQ(behind2.AwaitAlerts(101), expected);

  hub.BeginShutdown();
  hub.Stop();
}

TEST_F(AlertHubTest, SeveralLiveWorkersGiveEveryStreamEveryAlertOnceInOrder) {
  // dipwired starts one live worker per two cores; on a larger machine
  // several serve the same streams in turn.
  AlertHubOptions options;
  options.live_threads = 4;
  AlertHub hub(store_.get(), &clock_, options);
  ASSERT_THAT(hub.Start(), IsOk());
  std::vector<std::unique_ptr<RecordingStream>> streams;
  for (int i = 0; i < 16; ++i) {
    streams.push_back(std::make_unique<RecordingStream>());
    ASSERT_THAT(streams.back()->AttachTo(&hub), IsOk());
  }

  constexpr uint64_t kAlerts = 300;
  std::vector<std::string> expected;
  for (uint64_t first = 1; first <= kAlerts; first += 10) {
    std::vector<std::shared_ptr<const StoredAlert>> group;
    for (uint64_t position = first; position < first + 10; ++position) {
      group.push_back(std::make_shared<const StoredAlert>(MakeAlert(position)));
      expected.push_back(absl::StrCat("al-", position, "-0"));
    }
    hub.Publish(std::move(group));
  }
  for (auto& stream : streams) {
    EXPECT_EQ(stream->AwaitAlerts(kAlerts), expected);
  }
  hub.Stop();
}

TEST_F(AlertHubTest, PublishHandsBackTheAlertsTheTailLetsGoOldestFirst) {
  // The publish writer destroys them after answering its publishers, not
  // under the hub's lock.
  AlertHubOptions options;
  options.tail_capacity = 3;
  AlertHub hub(store_.get(), &clock_, options);
  ASSERT_THAT(hub.Start(), IsOk());
  RecordingStream live;
  ASSERT_THAT(live.AttachTo(&hub), IsOk());
  const auto publish = [this, &hub](uint64_t first, uint64_t last) {
    std::vector<std::shared_ptr<const StoredAlert>> group;
    for (uint64_t position = first; position <= last; ++position) {
      EXPECT_THAT(store_->Append({MakeEvent(position)}, {MakeAlert(position)}),
                  IsOk());
      group.push_back(std::make_shared<const StoredAlert>(MakeAlert(position)));
    }
    std::vector<uint64_t> released;
    for (const auto& alert : hub.Publish(std::move(group))) {
      released.push_back(alert->position);
    }
    return released;
  };
  EXPECT_THAT(publish(1, 2), ::testing::IsEmpty());
  EXPECT_THAT(publish(3, 5), ::testing::ElementsAre(1, 2));
  EXPECT_THAT(publish(6, 6), ::testing::ElementsAre(3));
  EXPECT_THAT(live.AwaitAlerts(6),
              ::testing::ElementsAre("al-1-0", "al-2-0", "al-3-0", "al-4-0",
                                     "al-5-0", "al-6-0"));
  hub.Stop();
}

TEST_F(AlertHubTest, DurableStreamResumesStoresItsStartAndIsTakenOver) {
  Fill(5);
  AlertHub hub(failing_.get(), &clock_);
  ASSERT_THAT(hub.Start(), IsOk());
  ASSERT_THAT(store_->PutSubscription("desk", 3, clock_.Now()), IsOk());

  // No start: resumes after the stored position.
  RecordingStream older;
  auto older_id = older.AttachTo(&hub, Resume("desk"));
  ASSERT_THAT(older_id, IsOk());
  EXPECT_THAT(older.AwaitAlerts(2), ::testing::ElementsAre("al-4-0", "al-5-0"));

  // A stream with a start takes over and moves the subscription.
  RecordingStream newer;
  auto newer_id = newer.AttachTo(&hub, AfterPosition(1, "desk"));
  ASSERT_THAT(newer_id, IsOk());
  EXPECT_THAT(older.AwaitEnd(),
              StatusIs(absl::StatusCode::kAborted,
                       ::testing::HasSubstr("took over subscription desk")));
  hub.Detach(*older_id);
  EXPECT_THAT(newer.AwaitAlerts(4),
              ::testing::ElementsAre("al-2-0", "al-3-0", "al-4-0", "al-5-0"));
  auto stored = store_->GetSubscription("desk");
  ASSERT_THAT(stored, IsOk());
  EXPECT_EQ(*stored, std::optional<uint64_t>(1));

  // A new name without a start is created at the head.
  RecordingStream night;
  auto night_id = night.AttachTo(&hub, Resume("night"));
  ASSERT_THAT(night_id, IsOk());
  ASSERT_THAT(store_->Append({MakeEvent(6)}, {MakeAlert(6)}), IsOk());
  hub.Publish({std::make_shared<const StoredAlert>(MakeAlert(6))});
  EXPECT_THAT(night.AwaitAlerts(1), ::testing::ElementsAre("al-6-0"));
  stored = store_->GetSubscription("night");
  ASSERT_THAT(stored, IsOk());
  EXPECT_EQ(*stored, std::optional<uint64_t>(5));

  hub.BeginShutdown();
  EXPECT_THAT(newer.AwaitEnd(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(night.AwaitEnd(), StatusIs(absl::StatusCode::kUnavailable));
  hub.Detach(*newer_id);
  hub.Detach(*night_id);
  hub.Stop();
}

TEST_F(AlertHubTest,
       DeletingASubscriptionWhileItsStreamStoresItsStartKeepsItDeleted) {
  Fill(5);
  AlertHubOptions options;
  options.catch_up_threads = 1;
  AlertHub hub(failing_.get(), &clock_, options);
  ASSERT_THAT(hub.Start(), IsOk());
  ASSERT_THAT(store_->PutSubscription("desk", 3, clock_.Now()), IsOk());

  // A stream seeks "desk": its first turn stores the new start, and is held
  // there, past its check that the subscription was not deleted.
  failing_->HoldPuts();
  RecordingStream stream;
  auto id = stream.AttachTo(&hub, AfterPosition(1, "desk"));
  ASSERT_THAT(id, IsOk());
  ASSERT_TRUE(failing_->AwaitHeldPut(kWait));

  // DeleteSubscription meanwhile: it waits for the write, then deletes.
  std::thread deleter(
      [&] { EXPECT_THAT(hub.DeleteSubscription("desk"), IsOk()); });
  absl::SleepFor(absl::Milliseconds(200));  // the delete goes first if it can
  failing_->ReleasePuts();
  deleter.join();

  EXPECT_THAT(stream.AwaitEnd(),
              StatusIs(absl::StatusCode::kNotFound,
                       ::testing::HasSubstr("desk was deleted")));
  hub.Detach(*id);
  // Deleted for good: the ending stream did not write it back.
  auto stored = store_->GetSubscription("desk");
  ASSERT_THAT(stored, IsOk());
  EXPECT_EQ(*stored, std::nullopt);
  hub.Stop();
}

TEST_F(AlertHubTest, MaxStreamsBoundsOpenStreamsAndAnEndedOneFreesItsPlace) {
  AlertHubOptions options;
  options.max_streams = 2;
  AlertHub hub(failing_.get(), &clock_, options);
  ASSERT_THAT(hub.Start(), IsOk());

  const StartSpec durable = Resume("desk");
  RecordingStream first;
  RecordingStream second;
  auto first_id = first.AttachTo(&hub, durable);
  ASSERT_THAT(first_id, IsOk());
  auto second_id = second.AttachTo(&hub);
  ASSERT_THAT(second_id, IsOk());
  EXPECT_EQ(hub.open_stream_count(), 2U);

  // N open: the N+1th is refused, naming the limit; nothing is attached.
  RecordingStream third;
  EXPECT_THAT(
      third.AttachTo(&hub).status(),
      StatusIs(absl::StatusCode::kResourceExhausted,
               "too many concurrent streams: this server serves at most 2 "
               "Subscribe streams at once (--max-streams=2); retry later"));
  EXPECT_EQ(hub.stream_count(), 2U);

  // A takeover replaces the stream it ends, so it is let in at the limit.
  RecordingStream takeover;
  auto takeover_id = takeover.AttachTo(&hub, durable);
  ASSERT_THAT(takeover_id, IsOk());
  EXPECT_THAT(first.AwaitEnd(), StatusIs(absl::StatusCode::kAborted));
  hub.Detach(*first_id);
  EXPECT_EQ(hub.open_stream_count(), 2U);
  EXPECT_THAT(third.AttachTo(&hub).status(),
              StatusIs(absl::StatusCode::kResourceExhausted));

  // Once a stream has ended (before its call is even done), its place is
  // free.
  hub.Cancel(*second_id);
  EXPECT_THAT(second.AwaitEnd(), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(hub.open_stream_count(), 1U);
  auto third_id = third.AttachTo(&hub);
  ASSERT_THAT(third_id, IsOk());
  hub.Detach(*second_id);
  EXPECT_EQ(hub.open_stream_count(), 2U);

  hub.BeginShutdown();
  EXPECT_THAT(takeover.AwaitEnd(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(third.AwaitEnd(), StatusIs(absl::StatusCode::kUnavailable));
  hub.Detach(*takeover_id);
  hub.Detach(*third_id);
  EXPECT_EQ(hub.open_stream_count(), 0U);
  hub.Stop();
}

// A Stream whose client reads nothing: each write stays in flight until the
// test reports it done.
class StalledStream final : public AlertHub::Stream {
 public:
  void Send(std::string bytes) override ABSL_LOCKS_EXCLUDED(mu_) {
    v1::SubscribeResponse response;
    EXPECT_TRUE(response.ParseFromString(bytes));
    absl::MutexLock lock(&mu_);
    first_write_alerts_ = response.alerts_size();
  }
  void End(const absl::Status& /*status*/) override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    ended_ = true;
  }
  // Waits for the first write; returns how many alerts it holds (-1: none
  // came).
  int AwaitFirstWrite() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(this, &StalledStream::written), kWait);
    return first_write_alerts_;
  }
  bool AwaitEnd() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&ended_), kWait);
  }

 private:
  bool written() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    mu_.AssertHeld();
    return first_write_alerts_ >= 0;
  }

  mutable absl::Mutex mu_;
  int first_write_alerts_ ABSL_GUARDED_BY(mu_) = -1;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

TEST_F(AlertHubTest, TakeoversCannotPileUpStreamsWhoseClientsReadNothing) {
  AlertHubOptions options;
  options.max_streams = 1;
  AlertHub hub(failing_.get(), &clock_, options);
  ASSERT_THAT(hub.Start(), IsOk());
  const StartSpec durable = Resume("desk");

  // The holder's first write (its heartbeat) is never read.
  StalledStream stalled;
  auto stalled_id = hub.Attach(&stalled, Filter(), durable, absl::Hours(1));
  ASSERT_THAT(stalled_id, IsOk());
  ASSERT_EQ(stalled.AwaitFirstWrite(), 0);
  // A takeover is let in at the limit; the stream it ends still counts, as
  // it cannot end before its write does.
  RecordingStream second;
  auto second_id = second.AttachTo(&hub, durable);
  ASSERT_THAT(second_id, IsOk());
  EXPECT_EQ(hub.open_stream_count(), 2U);
  // Another takeover meanwhile would leave a second stream behind: it is
  // held to the limit, and nothing is attached or ended.
  RecordingStream third;
  EXPECT_THAT(third.AttachTo(&hub, durable).status(),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(hub.stream_count(), 2U);

  // Once the stalled stream's call breaks, it ends and the next takeover
  // gets in.
  hub.WriteDone(*stalled_id, false);
  ASSERT_TRUE(stalled.AwaitEnd());
  hub.Detach(*stalled_id);
  EXPECT_EQ(hub.open_stream_count(), 1U);
  auto third_id = third.AttachTo(&hub, durable);
  ASSERT_THAT(third_id, IsOk());
  EXPECT_THAT(second.AwaitEnd(), StatusIs(absl::StatusCode::kAborted));
  hub.Detach(*second_id);
  EXPECT_EQ(hub.open_stream_count(), 1U);

  hub.BeginShutdown();
  EXPECT_THAT(third.AwaitEnd(), StatusIs(absl::StatusCode::kUnavailable));
  hub.Detach(*third_id);
  EXPECT_EQ(hub.open_stream_count(), 0U);
  hub.Stop();
}

TEST_F(AlertHubTest, AStalledStreamOfADeletedSubscriptionCountsUntilItEnds) {
  AlertHubOptions options;
  options.max_streams = 1;
  AlertHub hub(failing_.get(), &clock_, options);
  ASSERT_THAT(hub.Start(), IsOk());

  StalledStream stalled;
  auto stalled_id =
      hub.Attach(&stalled, Filter(), Resume("desk"), absl::Hours(1));
  ASSERT_THAT(stalled_id, IsOk());
  ASSERT_EQ(stalled.AwaitFirstWrite(), 0);  // stored its start, then wrote
  ASSERT_THAT(hub.DeleteSubscription("desk"), IsOk());
  // Its write is stuck, so it has not ended: it still holds its place.
  EXPECT_EQ(hub.open_stream_count(), 1U);
  RecordingStream other;
  EXPECT_THAT(other.AttachTo(&hub).status(),
              StatusIs(absl::StatusCode::kResourceExhausted));

  hub.WriteDone(*stalled_id, false);
  ASSERT_TRUE(stalled.AwaitEnd());
  hub.Detach(*stalled_id);
  EXPECT_EQ(hub.open_stream_count(), 0U);
  auto other_id = other.AttachTo(&hub);
  ASSERT_THAT(other_id, IsOk());
  hub.BeginShutdown();
  EXPECT_THAT(other.AwaitEnd(), StatusIs(absl::StatusCode::kUnavailable));
  hub.Detach(*other_id);
  hub.Stop();
}

TEST_F(AlertHubTest, StreamStatsReportOpenStreamsAndTheLagOfAStalledOne) {
  Fill(5);
  AlertHubOptions options;
  options.max_response_alerts = 2;
  AlertHub hub(store_.get(), &clock_, options);
  ASSERT_THAT(hub.Start(), IsOk());
  EXPECT_EQ(hub.stream_stats().open_streams, 0U);
  EXPECT_EQ(hub.stream_stats().max_lag, 0U);

  StalledStream stalled;
  auto id = hub.Attach(&stalled, Filter(), Earliest(), absl::Hours(1));
  ASSERT_THAT(id, IsOk());
  // Its first response holds alerts 1 and 2, and is never read: the stream
  // stands 3 alerts behind the head.
  ASSERT_EQ(stalled.AwaitFirstWrite(), 2);
  const AlertHub::StreamStats stats = hub.stream_stats();
  EXPECT_EQ(stats.open_streams, 1U);
  EXPECT_EQ(stats.max_lag, 3U);

  hub.WriteDone(*id, false);  // the call broke
  ASSERT_TRUE(stalled.AwaitEnd());
  hub.Detach(*id);
  EXPECT_EQ(hub.stream_stats().open_streams, 0U);
  hub.Stop();
}

TEST_F(AlertHubTest, RetentionGapEndsACatchUpAndRefusesOlderStarts) {
  Fill(100);
  AlertHubOptions options;
  options.tail_capacity = 10;  // alerts 91..100 in memory, the rest on disk
  AlertHub hub(failing_.get(), &clock_, options);
  ASSERT_THAT(hub.Start(), IsOk());

  // A stream catching up from the store, its first read held...
  failing_->HoldReads();
  RecordingStream behind;
  auto id = behind.AttachTo(&hub, AfterPosition(5));
  ASSERT_THAT(id, IsOk());
  ASSERT_TRUE(failing_->AwaitHeldReads(1, kWait));
  // ...while retention deletes the alerts it has not read yet.
  hub.SetTrimmedThrough(50);
  ASSERT_EQ(*store_->TrimAlerts(50, 5000), 50u);
  failing_->ReleaseReads();
  EXPECT_THAT(behind.AwaitEnd(),
              StatusIs(absl::StatusCode::kOutOfRange,
                       ::testing::HasSubstr(EncodeCursor(50))));
  EXPECT_EQ(behind.received(), 0U);

  // A start before the kept alerts is refused at once.
  RecordingStream old;
  EXPECT_THAT(old.AttachTo(&hub, AfterPosition(10)),
              StatusIs(absl::StatusCode::kOutOfRange,
                       ::testing::HasSubstr(EncodeCursor(50))));

  // EARLIEST starts at the oldest kept alert.
  RecordingStream earliest;
  id = earliest.AttachTo(&hub, Earliest());
  ASSERT_THAT(id, IsOk());
  const std::vector<std::string> ids = earliest.AwaitAlerts(50);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), "al-51-0");
  EXPECT_EQ(ids.size(), 50U);

  hub.BeginShutdown();
  hub.Stop();
}

}  // namespace
}  // namespace dipwire::server
