#include "server/publish_pipeline.h"

#include <array>
#include <memory>
#include <string>
#include <vector>

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

  absl::StatusOr<v1::PublishResponse> Publish(v1::PublishRequest request) {
    absl::Notification done;
    absl::StatusOr<v1::PublishResponse> result;
    pipeline_->Submit(std::move(request),
                      [&](absl::StatusOr<v1::PublishResponse> r) {
                        result = std::move(r);
                        done.Notify();
                      });
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
    return result;
  }

  FakeClock clock_{absl::FromUnixSeconds(1'718'409'600)};
  std::unique_ptr<SqliteEventStore> store_;
  std::unique_ptr<FailingEventStore> failing_;
  std::unique_ptr<AlertHub> hub_;
  std::unique_ptr<PublishPipeline> pipeline_;
};

TEST_F(PublishPipelineTest, BatchesQueuedDuringACommitShareTheNextOne) {
  failing_->HoldAppends();
  std::vector<absl::StatusOr<v1::PublishResponse>> results(50);
  std::vector<std::unique_ptr<absl::Notification>> done;
  for (int i = 0; i < 50; ++i) {
    done.push_back(std::make_unique<absl::Notification>());
    pipeline_->Submit(
        PeaceBatch(absl::StrCat("p", i), i % 2 == 0
                                             ? v1::PeaceTalkUpdate::PROPOSED
                                             : v1::PeaceTalkUpdate::STALLED),
        [&results, &done, i](absl::StatusOr<v1::PublishResponse> r) {
          results[static_cast<size_t>(i)] = std::move(r);
          done[static_cast<size_t>(i)]->Notify();
        });
    if (i == 0) {
      // The writer now waits in the first commit; the rest queue behind it.
      ASSERT_TRUE(failing_->AwaitAppendWaiting(absl::Seconds(30)));
    }
  }
  failing_->ReleaseAppends();
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(done[static_cast<size_t>(i)]->WaitForNotificationWithTimeout(
        absl::Seconds(30)));
    ASSERT_THAT(results[static_cast<size_t>(i)], IsOk());
    EXPECT_EQ(results[static_cast<size_t>(i)]->results(0).sequence(),
              static_cast<uint64_t>(i + 1));
  }
  // One commit for the first batch, one for the 49 queued behind it.
  EXPECT_EQ(failing_->appends(), 2);
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
  failing_->HoldAppends();
  absl::Notification first_done;
  pipeline_->Submit(
      PeaceBatch("p0", v1::PeaceTalkUpdate::PROPOSED),
      [&](const absl::StatusOr<v1::PublishResponse>&) { first_done.Notify(); });
  ASSERT_TRUE(failing_->AwaitAppendWaiting(absl::Seconds(30)));
  absl::StatusOr<v1::PublishResponse> a;
  absl::StatusOr<v1::PublishResponse> b;
  absl::Notification a_done;
  absl::Notification b_done;
  pipeline_->Submit(PeaceBatch("x", v1::PeaceTalkUpdate::PROPOSED),
                    [&](absl::StatusOr<v1::PublishResponse> r) {
                      a = std::move(r);
                      a_done.Notify();
                    });
  pipeline_->Submit(PeaceBatch("x", v1::PeaceTalkUpdate::AGREED),
                    [&](absl::StatusOr<v1::PublishResponse> r) {
                      b = std::move(r);
                      b_done.Notify();
                    });
  // Both commits fail: the one held (p0 alone) and the group of A and B.
  failing_->FailAppends(2, absl::UnavailableError("disk full"));
  failing_->ReleaseAppends();
  ASSERT_TRUE(first_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(a_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(b_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_THAT(a, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(b, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(failing_->appends(), 2);
}

TEST_F(PublishPipelineTest, QueueHoldsAtMostMaxPendingBytes) {
  pipeline_->Stop();
  const v1::PublishRequest queued =
      PeaceBatch("a", v1::PeaceTalkUpdate::STALLED);
  PublishPipelineOptions options;
  options.max_pending_bytes = queued.ByteSizeLong() + 1;
  auto pipeline =
      PublishPipeline::Start(failing_.get(), hub_.get(), &clock_, options);
  ASSERT_THAT(pipeline, IsOk());
  pipeline_ = *std::move(pipeline);

  // The writer takes p0 and waits in its commit; `queued` fills the queue.
  failing_->HoldAppends();
  std::array<absl::StatusOr<v1::PublishResponse>, 3> results;
  std::array<absl::Notification, 3> done;
  auto submit = [&](size_t slot, v1::PublishRequest request) {
    pipeline_->Submit(std::move(request),
                      [result = &results[slot], notification = &done[slot]](
                          absl::StatusOr<v1::PublishResponse> r) {
                        *result = std::move(r);
                        notification->Notify();
                      });
  };
  submit(0, PeaceBatch("p0", v1::PeaceTalkUpdate::PROPOSED));
  ASSERT_TRUE(failing_->AwaitAppendWaiting(absl::Seconds(30)));
  submit(1, queued);
  const v1::PublishRequest refused =
      PeaceBatch("b", v1::PeaceTalkUpdate::REJECTED);
  submit(2, refused);
  ASSERT_TRUE(done[2].HasBeenNotified());
  EXPECT_THAT(
      results[2],
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
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(done[i].WaitForNotificationWithTimeout(absl::Seconds(30)));
    EXPECT_THAT(results[i], IsOk()) << i;
  }
  // Drained, the queue takes the refused batch.
  EXPECT_THAT(Publish(refused), IsOk());
}

TEST_F(PublishPipelineTest, QueueHoldsAtMostMaxPendingEvents) {
  pipeline_->Stop();
  PublishPipelineOptions options;
  options.max_pending_events = 3;
  auto pipeline =
      PublishPipeline::Start(failing_.get(), hub_.get(), &clock_, options);
  ASSERT_THAT(pipeline, IsOk());
  pipeline_ = *std::move(pipeline);

  // The writer takes p0 and waits in its commit; what follows queues.
  failing_->HoldAppends();
  std::array<absl::StatusOr<v1::PublishResponse>, 4> results;
  std::array<absl::Notification, 4> done;
  auto submit = [&](size_t slot, v1::PublishRequest request) {
    pipeline_->Submit(std::move(request),
                      [result = &results[slot], notification = &done[slot]](
                          absl::StatusOr<v1::PublishResponse> r) {
                        *result = std::move(r);
                        notification->Notify();
                      });
  };
  submit(0, PeaceBatch("p0", v1::PeaceTalkUpdate::PROPOSED));
  ASSERT_TRUE(failing_->AwaitAppendWaiting(absl::Seconds(30)));
  v1::PublishRequest two = PeaceBatch("a1", v1::PeaceTalkUpdate::STALLED);
  *two.add_events() = PeaceBatch("a2", v1::PeaceTalkUpdate::AGREED).events(0);
  two.mutable_events(1)->mutable_peace_talk()->set_process_id("other");
  submit(1, std::move(two));
  submit(2, PeaceBatch("b", v1::PeaceTalkUpdate::REJECTED));  // 3 queued: full
  // One event more is refused at once, before Submit returns.
  submit(3, PeaceBatch("c", v1::PeaceTalkUpdate::COLLAPSED));
  ASSERT_TRUE(done[3].HasBeenNotified());
  EXPECT_THAT(results[3],
              StatusIs(absl::StatusCode::kUnavailable,
                       "publish queue full: 3 events wait to be committed and "
                       "this request adds 1; at most 3 may wait "
                       "(--max-pending-events=3); nothing of this request was "
                       "stored; retry after a short backoff"));
  EXPECT_FALSE(done[1].HasBeenNotified());

  failing_->ReleaseAppends();
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(done[i].WaitForNotificationWithTimeout(absl::Seconds(30)));
    EXPECT_THAT(results[i], IsOk()) << i;
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

}  // namespace
}  // namespace dipwire::server
