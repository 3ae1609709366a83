#include "server/retention.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/alert_hub.h"
#include "server/publish_pipeline.h"
#include "server/sqlite_event_store.h"
#include "tests/testing/dipwired_process.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/status_matchers.h"

namespace dipwire::server {
namespace {

using ::dipwire::testing::FakeClock;
using ::dipwire::testing::IsOk;

v1::PublishRequest PeaceBatch(int n) {
  v1::PublishRequest request;
  v1::DiplomaticEvent* event = request.add_events();
  event->set_event_id(absl::StrCat("p", n));
  event->mutable_occurred_at()->set_seconds(1'718'409'600);
  event->mutable_reported_at()->set_seconds(1'718'409'600);
  event->mutable_source()->set_outlet("AP");
  event->mutable_peace_talk()->set_process_id(absl::StrCat("process-", n));
  event->mutable_peace_talk()->set_status(v1::PeaceTalkUpdate::PROPOSED);
  return request;
}

// Plumbing only: a real store, hub and pipeline on a fake clock.
class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SqliteEventStoreOptions options;
    options.data_dir = dipwire::testing::NewTempDir("retention");
    auto store = SqliteEventStore::Open(options);
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    hub_ = std::make_unique<AlertHub>(store_.get(), &clock_);
    ASSERT_THAT(hub_->Start(), IsOk());
    auto pipeline = PublishPipeline::Start(store_.get(), hub_.get(), &clock_);
    ASSERT_THAT(pipeline, IsOk());
    pipeline_ = *std::move(pipeline);
  }

  void TearDown() override {
    if (retention_ != nullptr) retention_->Stop();
    if (pipeline_ != nullptr) pipeline_->Stop();
    if (hub_ != nullptr) hub_->Stop();
  }

  void Publish(int n) {
    absl::Notification done;
    absl::Status status;
    pipeline_->Submit(PeaceBatch(n),
                      [&](const absl::StatusOr<v1::PublishResponse>& response) {
                        status = response.status();
                        done.Notify();
                      });
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(20)));
    ASSERT_THAT(status, IsOk());
  }

  FakeClock clock_{absl::FromUnixSeconds(1'718'409'600)};
  std::unique_ptr<SqliteEventStore> store_;
  std::unique_ptr<AlertHub> hub_;
  std::unique_ptr<PublishPipeline> pipeline_;
  std::unique_ptr<Retention> retention_;
};

TEST_F(RetentionTest, AgeKeepsWhatWasCommittedWithinIt) {
  Publish(1);
  clock_.Advance(absl::Hours(2));
  Publish(2);
  Publish(3);
  RetentionOptions options;
  options.events = *ParseRetentionSpec("1h", "--retain-events");
  options.alerts = *ParseRetentionSpec("90m", "--retain-alerts");
  options.interval = absl::Hours(24);  // the passes below are the test's
  options.chunk_rows = 1;
  retention_ = Retention::Start(options, store_.get(), hub_.get(),
                                pipeline_.get(), &clock_);
  ASSERT_THAT(retention_->RunOnce(), IsOk());
  auto head = store_->Head();
  ASSERT_THAT(head, IsOk());
  // Only event 1 and its alert are older than an hour.
  EXPECT_EQ(head->events_trimmed_through, 1u);
  EXPECT_EQ(head->alerts_trimmed_through, 1u);
  EXPECT_EQ(hub_->trimmed_through(), 1u);

  // Everything ages out, in chunks of one row: the snapshot taken at the
  // head lets every payload go.
  clock_.Advance(absl::Hours(2));
  ASSERT_THAT(retention_->RunOnce(), IsOk());
  head = store_->Head();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->events_trimmed_through, 3u);
  EXPECT_EQ(head->alerts_trimmed_through, 3u);
  EXPECT_EQ(head->last_alert_position, 3u);
  auto snapshot = store_->NewestSnapshot();
  ASSERT_THAT(snapshot, IsOk());
  ASSERT_TRUE(snapshot->has_value());
  EXPECT_EQ((*snapshot)->sequence, 3u);
}

TEST_F(RetentionTest, CountKeepsTheNewest) {
  for (int n = 1; n <= 10; ++n) Publish(n);
  RetentionOptions options;
  options.events = *ParseRetentionSpec("4", "--retain-events");
  options.alerts = *ParseRetentionSpec("3", "--retain-alerts");
  options.interval = absl::Hours(24);
  retention_ = Retention::Start(options, store_.get(), hub_.get(),
                                pipeline_.get(), &clock_);
  ASSERT_THAT(retention_->RunOnce(), IsOk());
  auto head = store_->Head();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->events_trimmed_through, 6u);
  EXPECT_EQ(head->alerts_trimmed_through, 7u);
}

}  // namespace
}  // namespace dipwire::server
