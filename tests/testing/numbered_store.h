#ifndef DIPWIRE_TESTS_TESTING_NUMBERED_STORE_H_
#define DIPWIRE_TESTS_TESTING_NUMBERED_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/cursor.h"
#include "server/sqlite_event_store.h"
#include "tests/testing/dipwired_process.h"
#include "tests/testing/status_matchers.h"

namespace dipwire::testing {

// A new SqliteEventStore in a temporary directory named after `name`,
// holding events e1..e<count> (sequences 1..count), each with one
// PEACE_TALK_STATUS_CHANGED alert "al-<i>-0" at position i, all committed
// at Unix time 1,700,000,000. Null, with a test failure, when it cannot be
// made.
inline std::unique_ptr<server::SqliteEventStore> NumberedStore(
    absl::string_view name, uint64_t count) {
  server::SqliteEventStoreOptions options;
  options.data_dir = NewTempDir(std::string(name));
  auto store = server::SqliteEventStore::Open(options);
  EXPECT_THAT(store, IsOk());
  if (!store.ok()) return nullptr;
  std::vector<server::StoredEvent> events;
  std::vector<server::StoredAlert> alerts;
  for (uint64_t i = 1; i <= count; ++i) {
    server::StoredEvent& event = events.emplace_back();
    event.sequence = i;
    event.event.set_event_id(absl::StrCat("e", i));
    event.content_hash = std::string(32, 'h');
    event.committed_at = absl::FromUnixSeconds(1'700'000'000);
    server::StoredAlert& alert = alerts.emplace_back();
    alert.position = i;
    alert.alert.set_alert_id(absl::StrCat("al-", i, "-0"));
    alert.alert.set_cursor(server::EncodeCursor(i));
    alert.alert.set_type(v1::Alert::PEACE_TALK_STATUS_CHANGED);
    *alert.alert.mutable_event() = event.event;
    alert.alert.mutable_created_at()->set_seconds(1'700'000'000);
  }
  const absl::Status appended = (*store)->Append(events, alerts);
  EXPECT_THAT(appended, IsOk());
  if (!appended.ok()) return nullptr;
  return *std::move(store);
}

}  // namespace dipwire::testing

#endif  // DIPWIRE_TESTS_TESTING_NUMBERED_STORE_H_
