#include "server/publish_pipeline.h"

#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/alert_hub.h"
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
using ::testing::ElementsAre;
using ::testing::SizeIs;

v1::PublishRequest PeaceBatch(const std::string& id,
                              v1::PeaceTalkUpdate::Status status) {
  v1::PublishRequest request;
  v1::DiplomaticEvent* event = request.add_events();
  event->set_event_id(id);
  event->mutable_occurred_at()->set_seconds(1'718'409'600);
  event->mutable_reported_at()->set_seconds(1'718'409'600);
  event->mutable_source()->set_outlet("AP");
  event->mutable_peace_talk()->set_process_id("summit");
  event->mutable_peace_talk()->set_status(status);
  return request;
}

// Plumbing only: a real SQLite store under a failure-injecting wrapper, a
// hub and the pipeline under test.
class PublishPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SqliteEventStoreOptions options;
    options.data_dir = dipwire::testing::NewTempDir("pipeline");
    auto store = SqliteEventStore::Open(options);
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    failing_ = std::make_unique<FailingEventStore>(store_.get());
    hub_ = std::make_unique<AlertHub>(failing_.get(), &clock_);
    ASSERT_THAT(hub_->Start(), IsOk());
    auto pipeline = PublishPipeline::Start(failing_.get(), hub_.get(), &clock_);
    ASSERT_THAT(pipeline, IsOk());
    pipeline_ = *std::move(pipeline);
  }

  void TearDown() override {
    if (pipeline_ != nullptr) pipeline_->Stop();
    if (hub_ != nullptr) hub_->Stop();
  }

  // The outcome of one Submit: `done` is notified once `result` is set.
  struct Submitted {
    absl::StatusOr<v1::PublishResponse> result;
    absl::Notification done;

    bool Wait() const {
      return done.WaitForNotificationWithTimeout(absl::Seconds(30));
    }
  };

  // Submits `request` without waiting; the slot lives as long as the test.
  Submitted& Submit(v1::PublishRequest request) {
    Submitted& slot = submitted_.emplace_back();
    pipeline_->Submit(std::move(request),
                      [&slot](absl::StatusOr<v1::PublishResponse> r) {
                        slot.result = std::move(r);
                        slot.done.Notify();
                      });
    return slot;
  }

  absl::StatusOr<v1::PublishResponse> Publish(v1::PublishRequest request) {
    Submitted& slot = Submit(std::move(request));
    EXPECT_TRUE(slot.Wait());
    return slot.result;
  }

  // Replaces the pipeline with one started with `options`.
  void RestartPipeline(const PublishPipelineOptions& options) {
    pipeline_->Stop();
    auto pipeline =
        PublishPipeline::Start(failing_.get(), hub_.get(), &clock_, options);
    ASSERT_THAT(pipeline, IsOk());
    pipeline_ = *std::move(pipeline);
  }

  // Holds appends and submits a batch, which the writer takes into a commit
  // that waits there: what is submitted next queues behind it.
  void HoldTheWriter() {
    failing_->HoldAppends();
    held_ = &Submit(PeaceBatch("p0", v1::PeaceTalkUpdate::PROPOSED));
    ASSERT_TRUE(failing_->AwaitAppendWaiting(absl::Seconds(30)));
  }

  FakeClock clock_{absl::FromUnixSeconds(1'718'409'600)};
  // Before the pipeline: its callbacks write here until it has stopped.
  std::deque<Submitted> submitted_;
  Submitted* held_ = nullptr;  // the batch of HoldTheWriter
  std::unique_ptr<SqliteEventStore> store_;
  std::unique_ptr<FailingEventStore> failing_;
  std::unique_ptr<AlertHub> hub_;
  std::unique_ptr<PublishPipeline> pipeline_;
};

TEST_F(PublishPipelineTest, BatchesQueuedDuringACommitShareTheNextOne) {
  HoldTheWriter();  // p0
  for (int i = 1; i < 50; ++i) {
    Submit(PeaceBatch(absl::StrCat("p", i),
                      i % 2 == 0 ? v1::PeaceTalkUpdate::PROPOSED
                                 : v1::PeaceTalkUpdate::STALLED));
  }
  failing_->ReleaseAppends();
  ASSERT_THAT(submitted_, SizeIs(50));
  for (size_t i = 0; i < 50; ++i) {
    ASSERT_TRUE(submitted_[i].Wait());
    ASSERT_THAT(submitted_[i].result, IsOk());
    EXPECT_EQ(submitted_[i].result->results(0).sequence(), i + 1);
  }
  // One commit for the first batch, one for the 49 queued behind it.
  EXPECT_EQ(failing_->appends(), 2);
}

TEST_F(PublishPipelineTest, ClockGoingBackAcrossARestartKeepsCommitTimes) {
  // The store refuses a commit time before the last one (the log's head
  // time is its last event's); a restarted pipeline whose clock went back
  // must commit at the last time instead, not fail.
  ASSERT_THAT(Publish(PeaceBatch("before", v1::PeaceTalkUpdate::PROPOSED)),
              IsOk());
  const absl::Time first = clock_.Now();
  RestartPipeline({});
  clock_.Set(first - absl::Hours(1));
  absl::StatusOr<v1::PublishResponse> after =
      Publish(PeaceBatch("after", v1::PeaceTalkUpdate::STALLED));
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->results(0).outcome(), v1::PublishResult::ACCEPTED);
  std::vector<StoredEvent> events;
  ASSERT_THAT(store_->ReadEvents(0, 10, &events), IsOk());
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(events[0].committed_at, first);
  EXPECT_EQ(events[1].committed_at, first);
}

TEST_F(PublishPipelineTest, FlushesRunOnceEveryBatchOfTheGroupIsAnswered) {
  HoldTheWriter();  // p0
  // Written on the pipeline's thread only; read once `flushed` is notified.
  std::vector<std::string> log;
  absl::Notification flushed;
  for (int i = 1; i <= 3; ++i) {
    const std::string id = absl::StrCat("p", i);
    pipeline_->Submit(
        PeaceBatch(id, i % 2 == 0 ? v1::PeaceTalkUpdate::PROPOSED
                                  : v1::PeaceTalkUpdate::STALLED),
        [&log, &flushed, id,
         last = i == 3](const absl::StatusOr<v1::PublishResponse>& result) {
          log.push_back(absl::StrCat("answer ", id, result.ok() ? "" : " !"));
          PublishPipeline::AfterGroupAnswered([&log, &flushed, id, last] {
            log.push_back(absl::StrCat("flush ", id));
            if (last) flushed.Notify();
          });
        });
  }
  failing_->ReleaseAppends();
  ASSERT_TRUE(held_->Wait());
  ASSERT_TRUE(flushed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  // p1..p3 queued behind p0 and were committed and answered as one group.
  EXPECT_THAT(log, ElementsAre("answer p1", "answer p2", "answer p3",
                               "flush p1", "flush p2", "flush p3"));

  // Outside an answer, a flush runs at once.
  bool ran = false;
  PublishPipeline::AfterGroupAnswered([&ran] { ran = true; });
  EXPECT_TRUE(ran);
}

TEST_F(PublishPipelineTest, ASlowAnswerDoesNotHoldBackTheNextCommit) {
  // Answers are given on a thread of their own (writing one to a stream
  // runs the socket write): the writer commits the next group meanwhile.
  absl::Notification answering;
  absl::Notification release;
  absl::Notification first_answered;
  pipeline_->Submit(PeaceBatch("p0", v1::PeaceTalkUpdate::PROPOSED),
                    [&](const absl::StatusOr<v1::PublishResponse>& result) {
                      EXPECT_THAT(result, IsOk());
                      answering.Notify();
                      release.WaitForNotification();
                      first_answered.Notify();
                    });
  // On every way out, also a failed ASSERT: else the answer thread would
  // wait forever, and Stop with it; and the callback is let finish before
  // the notifications it uses go.
  absl::Cleanup release_on_return = [&] {
    if (!release.HasBeenNotified()) release.Notify();
    if (answering.HasBeenNotified()) first_answered.WaitForNotification();
  };
  ASSERT_TRUE(answering.WaitForNotificationWithTimeout(absl::Seconds(30)));
  Submitted& second = Submit(PeaceBatch("p1", v1::PeaceTalkUpdate::STALLED));
  // Committed while the first answer is still being given.
  uint64_t last_sequence = 0;
  for (int i = 0; i < 3000 && last_sequence < 2; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    absl::StatusOr<LogHead> head = store_->Head();
    ASSERT_THAT(head, IsOk());
    last_sequence = head->last_sequence;
  }
  EXPECT_EQ(last_sequence, 2U);
  EXPECT_FALSE(first_answered.HasBeenNotified());
  // Answers keep the order of the batches.
  EXPECT_FALSE(second.done.HasBeenNotified());
  release.Notify();
  ASSERT_TRUE(second.Wait());
  EXPECT_TRUE(first_answered.HasBeenNotified());
  ASSERT_THAT(second.result, IsOk());
  EXPECT_EQ(second.result->results(0).sequence(), 2U);
}

TEST_F(PublishPipelineTest, FailedCommitStoresNothingAndRewindsTheEngine) {
  ASSERT_THAT(Publish(PeaceBatch("p1", v1::PeaceTalkUpdate::PROPOSED)), IsOk());
  failing_->FailAppends(1, absl::UnavailableError("database is locked"));
  EXPECT_THAT(Publish(PeaceBatch("p2", v1::PeaceTalkUpdate::AGREED)),
              StatusIs(absl::StatusCode::kUnavailable));
  auto head = store_->Head();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->last_sequence, 1U);
  EXPECT_EQ(hub_->head(), 1U);

  // The retry is a new event, derived from PROPOSED (not from the AGREED
  // the failed group had applied), with the next sequence and alert id.
  auto retry = Publish(PeaceBatch("p2", v1::PeaceTalkUpdate::AGREED));
  ASSERT_THAT(retry, IsOk());
  EXPECT_EQ(retry->results(0).outcome(), v1::PublishResult::ACCEPTED);
  EXPECT_EQ(retry->results(0).sequence(), 2U);
  EXPECT_THAT(retry->results(0).alert_ids(), ElementsAre("al-2-0"));
  std::vector<StoredAlert> alerts;
  ASSERT_THAT(store_->ReadAlerts(0, 10, 1 << 20, &alerts), IsOk());
  ASSERT_THAT(alerts, SizeIs(2));
  EXPECT_EQ(alerts[1].alert.peace_talk_change().previous_status(),
            v1::PeaceTalkUpdate::PROPOSED);
}

TEST_F(PublishPipelineTest, FailedCommitsInARowReplayTheLogOnce) {
  // A full disk fails every group. The first failure rebuilds the engine
  // from the log; the next ones, finding the log where it was, load the
  // state that rebuild saved instead of replaying the log again.
  ASSERT_THAT(Publish(PeaceBatch("p1", v1::PeaceTalkUpdate::PROPOSED)), IsOk());
  failing_->FailAppends(3, absl::UnavailableError("disk full"));
  const int reads_before = failing_->read_events();
  EXPECT_THAT(Publish(PeaceBatch("p2", v1::PeaceTalkUpdate::AGREED)),
              StatusIs(absl::StatusCode::kUnavailable));
  const int replay_reads = failing_->read_events() - reads_before;
  EXPECT_GT(replay_reads, 0);
  EXPECT_THAT(Publish(PeaceBatch("p2", v1::PeaceTalkUpdate::AGREED)),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Publish(PeaceBatch("p3", v1::PeaceTalkUpdate::STALLED)),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(failing_->read_events() - reads_before, replay_reads);

  // Each failure put the engine back where the log is: the retry derives
  // from PROPOSED, not from a status of a failed group.
  auto retry = Publish(PeaceBatch("p2", v1::PeaceTalkUpdate::AGREED));
  ASSERT_THAT(retry, IsOk());
  EXPECT_EQ(retry->results(0).outcome(), v1::PublishResult::ACCEPTED);
  EXPECT_EQ(retry->results(0).sequence(), 2U);
  std::vector<StoredAlert> alerts;
  ASSERT_THAT(store_->ReadAlerts(0, 10, 1 << 20, &alerts), IsOk());
  ASSERT_THAT(alerts, SizeIs(2));
  EXPECT_EQ(alerts[1].alert.peace_talk_change().previous_status(),
            v1::PeaceTalkUpdate::PROPOSED);

  // Past a successful commit the saved state is stale: the next failure
  // replays the log again, and derives from AGREED.
  failing_->FailAppends(1, absl::UnavailableError("disk full"));
  EXPECT_THAT(Publish(PeaceBatch("p3", v1::PeaceTalkUpdate::STALLED)),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_GT(failing_->read_events() - reads_before, replay_reads);
  auto next = Publish(PeaceBatch("p3", v1::PeaceTalkUpdate::STALLED));
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(next->results(0).sequence(), 3U);
  alerts.clear();
  ASSERT_THAT(store_->ReadAlerts(0, 10, 1 << 20, &alerts), IsOk());
  ASSERT_THAT(alerts, SizeIs(3));
  EXPECT_EQ(alerts[2].alert.peace_talk_change().previous_status(),
            v1::PeaceTalkUpdate::AGREED);
}

TEST_F(PublishPipelineTest, CommitThatReachedTheDiskDespiteAnErrorIsDelivered) {
  failing_->FailAppends(1, absl::InternalError("fsync: I/O error"),
                        /*commit_anyway=*/true);
  EXPECT_THAT(Publish(PeaceBatch("p1", v1::PeaceTalkUpdate::PROPOSED)),
              StatusIs(absl::StatusCode::kInternal));
  // The log holds it, so subscribers get its alert and a retry is a
  // duplicate of it.
  EXPECT_EQ(hub_->head(), 1U);
  auto retry = Publish(PeaceBatch("p1", v1::PeaceTalkUpdate::PROPOSED));
  ASSERT_THAT(retry, IsOk());
  EXPECT_EQ(retry->results(0).outcome(), v1::PublishResult::DUPLICATE);
  EXPECT_EQ(retry->results(0).sequence(), 1U);
  auto next = Publish(PeaceBatch("p2", v1::PeaceTalkUpdate::STALLED));
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(next->results(0).sequence(), 2U);
  EXPECT_EQ(hub_->head(), 2U);
}

TEST_F(PublishPipelineTest, EveryBatchOfAFailedGroupGetsTheCommitError) {
  // Batch B conflicts with batch A of the same group; when the group's
  // commit fails, B must not be told ALREADY_EXISTS about an event that
  // was never stored.
  HoldTheWriter();
  Submitted& a = Submit(PeaceBatch("x", v1::PeaceTalkUpdate::PROPOSED));
  Submitted& b = Submit(PeaceBatch("x", v1::PeaceTalkUpdate::AGREED));
  // Both commits fail: the one held (p0 alone) and the group of A and B.
  failing_->FailAppends(2, absl::UnavailableError("disk full"));
  failing_->ReleaseAppends();
  ASSERT_TRUE(held_->Wait());
  ASSERT_TRUE(a.Wait());
  ASSERT_TRUE(b.Wait());
  EXPECT_THAT(a.result, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(b.result, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(failing_->appends(), 2);
}

TEST_F(PublishPipelineTest, QueueHoldsAtMostMaxPendingBytes) {
  const v1::PublishRequest queued =
      PeaceBatch("a", v1::PeaceTalkUpdate::STALLED);
  PublishPipelineOptions options;
  options.max_pending_bytes = queued.ByteSizeLong() + 1;
  RestartPipeline(options);

  // The writer holds p0 in its commit; `queued` fills the queue.
  HoldTheWriter();
  Submitted& first = Submit(queued);
  const v1::PublishRequest refused =
      PeaceBatch("b", v1::PeaceTalkUpdate::REJECTED);
  Submitted& second = Submit(refused);
  ASSERT_TRUE(second.done.HasBeenNotified());
  EXPECT_THAT(
      second.result,
      StatusIs(
          absl::StatusCode::kUnavailable,
          absl::StrCat(
              "publish queue full: ", queued.ByteSizeLong(),
              " bytes of events wait to be committed and "
              "this request adds ",
              refused.ByteSizeLong(), "; at most ", options.max_pending_bytes,
              " may wait (--max-pending-bytes=", options.max_pending_bytes,
              "); nothing of this request was stored; "
              "retry after a short backoff")));
  failing_->ReleaseAppends();
  ASSERT_TRUE(held_->Wait());
  EXPECT_THAT(held_->result, IsOk());
  ASSERT_TRUE(first.Wait());
  EXPECT_THAT(first.result, IsOk());
  // Drained, the queue takes the refused batch.
  EXPECT_THAT(Publish(refused), IsOk());
}

TEST_F(PublishPipelineTest, QueueHoldsAtMostMaxPendingEvents) {
  PublishPipelineOptions options;
  options.max_pending_events = 3;
  RestartPipeline(options);

  // The writer holds p0 in its commit; what follows queues.
  HoldTheWriter();
  v1::PublishRequest two = PeaceBatch("a1", v1::PeaceTalkUpdate::STALLED);
  *two.add_events() = PeaceBatch("a2", v1::PeaceTalkUpdate::AGREED).events(0);
  two.mutable_events(1)->mutable_peace_talk()->set_process_id("other");
  Submitted& a = Submit(std::move(two));
  Submitted& b = Submit(PeaceBatch("b", v1::PeaceTalkUpdate::REJECTED));
  // 3 queued: full. One event more is refused at once, before Submit
  // returns.
  Submitted& c = Submit(PeaceBatch("c", v1::PeaceTalkUpdate::COLLAPSED));
  ASSERT_TRUE(c.done.HasBeenNotified());
  EXPECT_THAT(c.result,
              StatusIs(absl::StatusCode::kUnavailable,
                       "publish queue full: 3 events wait to be committed and "
                       "this request adds 1; at most 3 may wait "
                       "(--max-pending-events=3); nothing of this request was "
                       "stored; retry after a short backoff"));
  EXPECT_FALSE(a.done.HasBeenNotified());

  failing_->ReleaseAppends();
  for (Submitted* queued : {held_, &a, &b}) {
    ASSERT_TRUE(queued->Wait());
    EXPECT_THAT(queued->result, IsOk());
  }
  // Drained, the queue takes the refused batch, and also one larger than
  // the limit when it is empty (a batch is never refused for its own size).
  EXPECT_THAT(Publish(PeaceBatch("c", v1::PeaceTalkUpdate::COLLAPSED)), IsOk());
  v1::PublishRequest big;
  for (int i = 0; i < 5; ++i) {
    *big.add_events() =
        PeaceBatch(absl::StrCat("big", i), v1::PeaceTalkUpdate::PROPOSED)
            .events(0);
    big.mutable_events(i)->mutable_peace_talk()->set_process_id(
        absl::StrCat("process-", i));
  }
  auto accepted = Publish(std::move(big));
  ASSERT_THAT(accepted, IsOk());
  EXPECT_THAT(accepted->results(), SizeIs(5));
}

v1::PublishRequest MeetingBatch(const std::string& id,
                                v1::LeaderMeeting::Status status,
                                const std::string& city) {
  v1::PublishRequest request;
  v1::DiplomaticEvent* event = request.add_events();
  event->set_event_id(id);
  event->mutable_occurred_at()->set_seconds(1'718'409'600);
  event->mutable_reported_at()->set_seconds(1'718'409'600);
  event->mutable_source()->set_outlet("AP");
  v1::LeaderMeeting* meeting = event->mutable_meeting();
  meeting->set_meeting_id("putin-xi-2024");
  for (const auto& [name, country] :
       {std::pair{"Vladimir Putin", "RUS"}, std::pair{"Xi Jinping", "CHN"}}) {
    v1::Actor* actor = meeting->add_participants();
    actor->set_name(name);
    actor->set_country(country);
    actor->set_role(v1::Actor::HEAD_OF_STATE);
  }
  meeting->set_city(city);
  meeting->set_status(status);
  return request;
}

TEST_F(PublishPipelineTest, RestartFromASnapshotDerivesAsIfNothingWasTrimmed) {
  auto first =
      Publish(MeetingBatch("m1", v1::LeaderMeeting::SCHEDULED, "Beijing"));
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(Publish(PeaceBatch("p1", v1::PeaceTalkUpdate::PROPOSED)), IsOk());
  auto snapshot = pipeline_->SaveSnapshot();
  ASSERT_THAT(snapshot, IsOk());
  EXPECT_EQ(*snapshot, 2u);
  // Retention: the payloads and alerts of both events go.
  ASSERT_EQ(*store_->TrimEvents(2, 5000), 2u);
  ASSERT_EQ(*store_->TrimAlerts(2, 5000), 2u);

  RestartPipeline(PublishPipelineOptions());
  EXPECT_EQ(pipeline_->replayed_events(), 0u);
  // The meeting's first report is gone from the log, yet this is an update
  // of it, not a new meeting.
  auto update = Publish(MeetingBatch("m2", v1::LeaderMeeting::HELD, ""));
  ASSERT_THAT(update, IsOk());
  EXPECT_EQ(update->results(0).sequence(), 3u);
  ASSERT_THAT(update->results(0).alert_ids(), ElementsAre("al-3-0"));
  std::vector<StoredAlert> alerts;
  ASSERT_THAT(store_->ReadAlerts(2, 10, 1 << 20, &alerts), IsOk());
  ASSERT_THAT(alerts, SizeIs(1));
  const v1::Alert& alert = alerts[0].alert;
  EXPECT_EQ(alert.type(), v1::Alert::LEADER_MEETING_UPDATED);
  EXPECT_EQ(alert.meeting_change().previous_status(),
            v1::LeaderMeeting::SCHEDULED);
  EXPECT_EQ(alert.meeting_change().status(), v1::LeaderMeeting::HELD);
  EXPECT_EQ(alert.meeting_change().previous_city(), "Beijing");
  // A retry of the trimmed first report is still its original answer.
  auto retry =
      Publish(MeetingBatch("m1", v1::LeaderMeeting::SCHEDULED, "Beijing"));
  ASSERT_THAT(retry, IsOk());
  EXPECT_EQ(retry->results(0).outcome(), v1::PublishResult::DUPLICATE);
  EXPECT_EQ(retry->results(0).sequence(), 1u);
  EXPECT_THAT(retry->results(0).alert_ids(),
              ElementsAre(first->results(0).alert_ids(0)));
}

TEST_F(PublishPipelineTest, ReplayStartsAfterTheSnapshot) {
  ASSERT_THAT(Publish(PeaceBatch("p1", v1::PeaceTalkUpdate::PROPOSED)), IsOk());
  ASSERT_THAT(pipeline_->SaveSnapshot(), IsOk());
  ASSERT_THAT(Publish(PeaceBatch("p2", v1::PeaceTalkUpdate::STALLED)), IsOk());
  RestartPipeline(PublishPipelineOptions());
  // Only the event after the snapshot was replayed.
  EXPECT_EQ(pipeline_->replayed_events(), 1u);
  auto next = Publish(PeaceBatch("p3", v1::PeaceTalkUpdate::AGREED));
  ASSERT_THAT(next, IsOk());
  std::vector<StoredAlert> alerts;
  ASSERT_THAT(store_->ReadAlerts(2, 10, 1 << 20, &alerts), IsOk());
  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].alert.peace_talk_change().previous_status(),
            v1::PeaceTalkUpdate::STALLED);
}

TEST_F(PublishPipelineTest, SaveSnapshotAfterStopIsUnavailable) {
  pipeline_->Stop();
  EXPECT_THAT(pipeline_->SaveSnapshot(),
              StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace dipwire::server
