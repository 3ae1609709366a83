#include "server/history.h"

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/cursor.h"
#include "server/sqlite_event_store.h"
#include "tests/testing/dipwired_process.h"
#include "tests/testing/failing_event_store.h"
#include "tests/testing/numbered_store.h"
#include "tests/testing/status_matchers.h"

namespace dipwire::server {
namespace {

using ::dipwire::testing::IsOk;
using ::dipwire::testing::StatusIs;
using ::testing::HasSubstr;

// A store holding events 1..10, each with one alert at the same position.
std::unique_ptr<SqliteEventStore> FilledStore() {
  return dipwire::testing::NumberedStore("history", 10);
}

TEST(HistoryTest, ListingsStartAtTheOldestKeptRecordAndRefuseOlderTokens) {
  std::unique_ptr<SqliteEventStore> store = FilledStore();
  ASSERT_NE(store, nullptr);
  v1::ListAlertsRequest alerts_request;
  alerts_request.set_page_size(2);
  auto alerts = ListAlerts(*store, alerts_request);
  ASSERT_THAT(alerts, IsOk());
  v1::ListEventsRequest events_request;
  events_request.set_page_size(2);
  auto events = ListEvents(*store, events_request);
  ASSERT_THAT(events, IsOk());

  // Retention removes alerts 1..5 and the payloads of events 1..6.
  EngineSnapshot snapshot;
  snapshot.sequence = 6;
  snapshot.alert_position = 6;
  snapshot.state = "s";
  snapshot.created_at = absl::FromUnixSeconds(1'700'000'000);
  ASSERT_THAT(store->PutSnapshot(snapshot), IsOk());
  ASSERT_EQ(*store->TrimAlerts(5, 5000), 5u);
  ASSERT_EQ(*store->TrimEvents(6, 5000), 6u);

  alerts_request.set_page_token(alerts->next_page_token());
  EXPECT_THAT(ListAlerts(*store, alerts_request),
              StatusIs(absl::StatusCode::kOutOfRange,
                       HasSubstr("page_token: retention removed the alerts")));
  events_request.set_page_token(events->next_page_token());
  EXPECT_THAT(ListEvents(*store, events_request),
              StatusIs(absl::StatusCode::kOutOfRange,
                       HasSubstr("page_token: retention removed the events")));

  alerts_request.clear_page_token();
  alerts = ListAlerts(*store, alerts_request);
  ASSERT_THAT(alerts, IsOk());
  ASSERT_EQ(alerts->alerts_size(), 2);
  EXPECT_EQ(alerts->alerts(0).alert_id(), "al-6-0");
  events_request.clear_page_token();
  events = ListEvents(*store, events_request);
  ASSERT_THAT(events, IsOk());
  ASSERT_EQ(events->sequences_size(), 2);
  EXPECT_EQ(events->sequences(0), 7u);
}

TEST(HistoryTest, FirstPageFollowsRetentionThatDeletesAlertsUnderIt) {
  std::unique_ptr<SqliteEventStore> store = FilledStore();
  ASSERT_NE(store, nullptr);
  dipwire::testing::FailingEventStore held(store.get());
  held.HoldReads();
  absl::StatusOr<v1::ListAlertsResponse> listed;
  std::thread lister([&held, &listed] {
    v1::ListAlertsRequest request;
    request.set_page_size(2);
    listed = ListAlerts(held, request);
  });
  // The listing has read the head and waits to read alerts 1 and 2...
  ASSERT_TRUE(held.AwaitHeldReads(1, absl::Seconds(20)));
  // ...which retention deletes first.
  ASSERT_EQ(*store->TrimAlerts(4, 5000), 4u);
  held.ReleaseReads();
  lister.join();
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->alerts_size(), 2);
  EXPECT_EQ(listed->alerts(0).alert_id(), "al-5-0");
}

}  // namespace
}  // namespace dipwire::server
