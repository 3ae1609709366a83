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
#include "tests/testing/numbered_store.h"
#include "tests/testing/status_matchers.h"

namespace dipwire::server {
namespace {

using ::dipwire::testing::FakeClock;
using ::dipwire::testing::IsOk;

TEST(WebhookSinksTest, SinkBehindRetentionSkipsToTheOldestKeptAlert) {
  // Peace-talk alerts 1..10, one per event.
  std::unique_ptr<SqliteEventStore> store =
      dipwire::testing::NumberedStore("sinks", 10);
  ASSERT_NE(store, nullptr);
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
