#include "server/webhook_sinks.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/alert_hub.h"
#include "server/cursor.h"
#include "server/filter.h"
#include "server/metrics.h"
#include "server/sqlite_event_store.h"
#include "tests/testing/dipwired_process.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/status_matchers.h"

namespace dipwire::server {
namespace {

using ::dipwire::testing::FakeClock;
using ::dipwire::testing::IsOk;

TEST(WebhookSinksTest, SinkBehindRetentionSkipsToTheOldestKeptAlert) {
  SqliteEventStoreOptions options;
  options.data_dir = dipwire::testing::NewTempDir("sinks");
  auto opened = SqliteEventStore::Open(options);
  ASSERT_THAT(opened, IsOk());
  std::unique_ptr<SqliteEventStore> store = *std::move(opened);
  // Peace-talk alerts 1..10, one per event.
  std::vector<StoredEvent> events;
  std::vector<StoredAlert> alerts;
  for (uint64_t i = 1; i <= 10; ++i) {
    StoredEvent& event = events.emplace_back();
    event.sequence = i;
    event.event.set_event_id(absl::StrCat("e", i));
    event.content_hash = std::string(32, 'h');
    event.committed_at = absl::FromUnixSeconds(1'700'000'000);
    StoredAlert& alert = alerts.emplace_back();
    alert.position = i;
    alert.alert.set_alert_id(absl::StrCat("al-", i, "-0"));
    alert.alert.set_cursor(EncodeCursor(i));
    alert.alert.set_type(v1::Alert::PEACE_TALK_STATUS_CHANGED);
    *alert.alert.mutable_event() = event.event;
    alert.alert.mutable_created_at()->set_seconds(1'700'000'000);
  }
  ASSERT_THAT(store->Append(events, alerts), IsOk());
  FakeClock clock(absl::FromUnixSeconds(1'700'000'000));
  // The sink had delivered up to alert 2 when retention deleted 1..5.
  ASSERT_THAT(store->PutSubscription(WebhookSinks::SubscriptionName("wire"), 2,
                                     clock.Now()),
              IsOk());
  ASSERT_EQ(*store->TrimAlerts(5, 5000), 5u);
  AlertHub hub(store.get(), &clock);
  ASSERT_THAT(hub.Start(), IsOk());

  SinkSpec spec;
  spec.name = "wire";
  spec.url = "http://127.0.0.1:9/hook";  // never called: nothing matches
  spec.filter_text = "type = TRADE_RECORD";
  auto filter = Filter::Compile(spec.filter_text, FilterTarget::kAlert);
  ASSERT_THAT(filter, IsOk());
  spec.filter = *std::move(filter);
  spec.source = "urn:dipwire:test";
  const uint64_t skipped_before = GlobalMetrics().sink_alerts_skipped.value();
  auto sinks = WebhookSinks::Start({spec}, store.get(), &hub, &clock);
  ASSERT_THAT(sinks, IsOk());
  // Bounded wait for the sink to pass over the kept alerts 6..10.
  std::string cursor;
  for (int i = 0; i < 400 && cursor != EncodeCursor(10); ++i) {
    absl::SleepFor(absl::Milliseconds(25));  // polls the sink's thread
    auto listed = (*sinks)->List();
    ASSERT_THAT(listed, IsOk());
    cursor = listed->at(0).cursor();
  }
  EXPECT_EQ(cursor, EncodeCursor(10));
  // Alerts 3..5 were never delivered, and are counted.
  EXPECT_EQ(GlobalMetrics().sink_alerts_skipped.value() - skipped_before, 3u);
  (*sinks)->Stop();
  hub.BeginShutdown();
  hub.Stop();
}

}  // namespace
}  // namespace dipwire::server
