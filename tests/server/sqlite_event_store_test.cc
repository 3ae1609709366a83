#include "server/sqlite_event_store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/proto_bytes.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"
#include "server/cursor.h"
#include "tests/testing/dipwired_process.h"
#include "tests/testing/status_matchers.h"

namespace dipwire::server {
namespace {

using ::dipwire::testing::IsOk;
using ::dipwire::testing::NewTempDir;
using ::dipwire::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

std::string Bytes(const google::protobuf::MessageLite& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    EXPECT_TRUE(message.SerializeToCodedStream(&coded));
  }
  return out;
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t nanos = absl::ToUnixNanos(t);
  ts.set_seconds(nanos / 1'000'000'000);
  ts.set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  return ts;
}

// A peace-talk event, committed at `committed_at`, listed as producing
// `alert_ids`.
StoredEvent MakeEvent(uint64_t sequence, const std::string& event_id,
                      absl::Time committed_at,
                      std::vector<std::string> alert_ids = {}) {
  StoredEvent stored;
  stored.sequence = sequence;
  v1::DiplomaticEvent& event = stored.event;
  event.set_event_id(event_id);
  *event.mutable_occurred_at() = ToProto(committed_at - absl::Hours(1));
  *event.mutable_reported_at() = ToProto(committed_at - absl::Minutes(5));
  event.mutable_source()->set_outlet("Reuters");
  event.set_summary(absl::StrCat("Talks update for ", event_id));
  event.mutable_peace_talk()->set_process_id("geneva-ukraine");
  event.mutable_peace_talk()->set_status(v1::PeaceTalkUpdate::IN_PROGRESS);
  event.mutable_peace_talk()->add_parties("RUS");
  event.mutable_peace_talk()->add_parties("UKR");
  stored.content_hash = std::string(32, static_cast<char>(sequence));
  stored.committed_at = committed_at;
  stored.alert_ids = std::move(alert_ids);
  return stored;
}

// An alert of `event` at `position`, created when the event committed.
StoredAlert MakeAlert(uint64_t position, const StoredEvent& event,
                      const std::string& alert_id,
                      const std::string& headline = "Talks in progress") {
  StoredAlert stored;
  stored.position = position;
  v1::Alert& alert = stored.alert;
  alert.set_alert_id(alert_id);
  alert.set_cursor(absl::StrCat("cursor-", position));
  alert.set_type(v1::Alert::PEACE_TALK_STATUS_CHANGED);
  alert.set_severity(v1::Alert::MEDIUM);
  alert.set_headline(headline);
  alert.add_countries("RUS");
  alert.add_countries("UKR");
  *alert.mutable_event() = event.event;
  *alert.mutable_created_at() = ToProto(event.committed_at);
  alert.mutable_peace_talk_change()->set_status(
      v1::PeaceTalkUpdate::IN_PROGRESS);
  return stored;
}

// Event `sequence` with `alerts_per_event` alerts, positions following
// (sequence - 1) * alerts_per_event.
struct Group {
  std::vector<StoredEvent> events;
  std::vector<StoredAlert> alerts;
};
Group MakeGroup(uint64_t sequence, int alerts_per_event, absl::Time t) {
  Group group;
  std::vector<std::string> ids;
  ids.reserve(alerts_per_event);
  for (int i = 0; i < alerts_per_event; ++i) {
    ids.push_back(absl::StrCat("alert-", sequence, "-", i));
  }
  group.events.push_back(
      MakeEvent(sequence, absl::StrCat("ev-", sequence), t, ids));
  for (int i = 0; i < alerts_per_event; ++i) {
    group.alerts.push_back(MakeAlert((sequence - 1) * alerts_per_event + i + 1,
                                     group.events[0], ids[i]));
  }
  return group;
}

class SqliteEventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = NewTempDir("sqlite_event_store_test"); }

  std::unique_ptr<SqliteEventStore> OpenStore(int read_connections = 2) {
    SqliteEventStoreOptions options;
    options.data_dir = dir_;
    options.read_connections = read_connections;
    absl::StatusOr<std::unique_ptr<SqliteEventStore>> store =
        SqliteEventStore::Open(options);
    EXPECT_THAT(store, IsOk());
    return store.ok() ? *std::move(store) : nullptr;
  }

  [[nodiscard]] std::string DbPath() const {
    return absl::StrCat(dir_, "/", SqliteEventStore::kFileName);
  }

  // Runs `sql` on the database file through a connection of its own and
  // returns the first column of the last row.
  std::string RawQuery(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
    std::string result;
    char* error = nullptr;
    const int rc = sqlite3_exec(
        db, sql.c_str(),
        [](void* out, int, char** values, char**) {
          *static_cast<std::string*>(out) =
              values[0] != nullptr ? values[0] : "NULL";
          return 0;
        },
        &result, &error);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (error != nullptr ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
    return result;
  }

  std::string dir_;
};

TEST_F(SqliteEventStoreTest, AppendThenReadBack) {
  std::unique_ptr<SqliteEventStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  const StoredEvent first = MakeEvent(1, "ev-1", kT0, {"a-1", "a-2"});
  const StoredEvent second =
      MakeEvent(2, "ev-2", kT0 + absl::Nanoseconds(1'234'567'891));
  const std::vector<StoredAlert> alerts = {
      MakeAlert(1, first, "a-1", "Talks resume"),
      MakeAlert(2, first, "a-2", "Talks resume in Geneva")};
  ASSERT_THAT(store->Append({first, second}, alerts), IsOk());

  std::vector<StoredEvent> events;
  ASSERT_THAT(store->ReadEvents(0, 10, &events), IsOk());
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(events[0].sequence, 1u);
  EXPECT_EQ(Bytes(events[0].event), Bytes(first.event));
  EXPECT_EQ(events[0].content_hash, first.content_hash);
  EXPECT_EQ(events[0].committed_at, first.committed_at);
  EXPECT_THAT(events[0].alert_ids, ElementsAre("a-1", "a-2"));
  EXPECT_EQ(events[1].sequence, 2u);
  EXPECT_EQ(Bytes(events[1].event), Bytes(second.event));
  // Nanosecond precision survives: replays see the same commit time.
  EXPECT_EQ(events[1].committed_at, second.committed_at);
  EXPECT_THAT(events[1].alert_ids, IsEmpty());

  std::vector<StoredAlert> read;
  ASSERT_THAT(store->ReadAlerts(0, 10, 1 << 20, &read), IsOk());
  ASSERT_THAT(read, SizeIs(2));
  EXPECT_EQ(read[0].position, 1u);
  EXPECT_EQ(Bytes(read[0].alert), Bytes(alerts[0].alert));
  EXPECT_EQ(read[1].position, 2u);
  EXPECT_EQ(Bytes(read[1].alert), Bytes(alerts[1].alert));

  absl::StatusOr<LogHead> head = store->Head();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->last_sequence, 2u);
  EXPECT_EQ(head->last_alert_position, 2u);
  EXPECT_EQ(head->last_committed_at, second.committed_at);
}

TEST_F(SqliteEventStoreTest, EmptyStoreHasEmptyHeadAndEmptyAppendIsNoOp) {
  std::unique_ptr<SqliteEventStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->Append({}, {}), IsOk());
  absl::StatusOr<LogHead> head = store->Head();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->last_sequence, 0u);
  EXPECT_EQ(head->last_alert_position, 0u);
  EXPECT_EQ(head->last_committed_at, absl::InfinitePast());
  std::vector<StoredEvent> events;
  EXPECT_THAT(store->ReadEvents(0, 10, &events), IsOk());
  EXPECT_THAT(events, IsEmpty());
}

TEST_F(SqliteEventStoreTest, ReopenKeepsEverything) {
  const Group one = MakeGroup(1, 2, kT0);
  const Group two = MakeGroup(2, 2, kT0 + absl::Seconds(1));
  {
    std::unique_ptr<SqliteEventStore> store = OpenStore();
    ASSERT_NE(store, nullptr);
    ASSERT_THAT(store->Append(one.events, one.alerts), IsOk());
    ASSERT_THAT(store->Append(two.events, two.alerts), IsOk());
  }
  std::unique_ptr<SqliteEventStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<LogHead> head = store->Head();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->last_sequence, 2u);
  EXPECT_EQ(head->last_alert_position, 4u);
  EXPECT_EQ(head->last_committed_at, kT0 + absl::Seconds(1));

  std::vector<StoredEvent> events;
  ASSERT_THAT(store->ReadEvents(0, 10, &events), IsOk());
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(Bytes(events[0].event), Bytes(one.events[0].event));
  EXPECT_EQ(Bytes(events[1].event), Bytes(two.events[0].event));
  EXPECT_EQ(events[1].alert_ids, two.events[0].alert_ids);
  std::vector<StoredAlert> alerts;
  ASSERT_THAT(store->ReadAlerts(0, 10, 1 << 20, &alerts), IsOk());
  ASSERT_THAT(alerts, SizeIs(4));
  EXPECT_EQ(Bytes(alerts[3].alert), Bytes(two.alerts[1].alert));

  // The log goes on where it stopped.
  const Group three = MakeGroup(3, 2, kT0 + absl::Seconds(2));
  EXPECT_THAT(store->Append(three.events, three.alerts), IsOk());
}

TEST_F(SqliteEventStoreTest, JournalModeIsWal) {
  std::unique_ptr<SqliteEventStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(RawQuery("PRAGMA journal_mode"), "wal");
}

TEST_F(SqliteEventStoreTest, MissingDataDirIsCreatedPrivate) {
  dir_ = absl::StrCat(dir_, "/nested/data");
  std::unique_ptr<SqliteEventStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  struct stat st {};
  ASSERT_EQ(stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(SqliteEventStoreTest, SecondStoreOnSameDirIsRefused) {
  std::unique_ptr<SqliteEventStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  SqliteEventStoreOptions options;
  options.data_dir = dir_;
  EXPECT_THAT(
      SqliteEventStore::Open(options),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("in use")));
  store.reset();
  EXPECT_THAT(SqliteEventStore::Open(options), IsOk());
}

TEST_F(SqliteEventStoreTest, CommitTimeGoingBackIsRejectedAndNothingStored) {
  // Head().last_committed_at is the last event's committed_at: the log
  // must not let it go back, across calls or within one.
  std::unique_ptr<SqliteEventStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  const Group one = MakeGroup(1, 1, kT0 + absl::Seconds(10));
  ASSERT_THAT(store->Append(one.events, one.alerts), IsOk());

  const StoredEvent earlier = MakeEvent(2, "ev-2", kT0);
  EXPECT_THAT(store->Append({earlier}, {}),
              StatusIs(absl::StatusCode::kInternal,
                       HasSubstr("event ev-2 has committed_at")));
  const StoredEvent same = MakeEvent(2, "ev-2", kT0 + absl::Seconds(10));
  const StoredEvent back = MakeEvent(3, "ev-3", kT0 + absl::Seconds(9));
  EXPECT_THAT(store->Append({same, back}, {}),
              StatusIs(absl::StatusCode::kInternal,
                       HasSubstr("event ev-3 has committed_at")));

  absl::StatusOr<LogHead> head = store->Head();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->last_sequence, 1u);
  EXPECT_EQ(head->last_committed_at, kT0 + absl::Seconds(10));
  // An equal commit time continues the log.
  EXPECT_THAT(store->Append({same}, {}), IsOk());
}

TEST_F(SqliteEventStoreTest, CreationTimeGoingBackIsRejectedAndNothingStored) {
  // AlertPositionBefore's binary search needs created_at non-decreasing in
  // position, across calls and within one.
  std::unique_ptr<SqliteEventStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  const Group one = MakeGroup(1, 1, kT0 + absl::Seconds(10));
  ASSERT_THAT(store->Append(one.events, one.alerts), IsOk());

  const StoredEvent two = MakeEvent(2, "ev-2", kT0 + absl::Seconds(10));
  StoredAlert earlier = MakeAlert(2, two, "a-2");
  *earlier.alert.mutable_created_at() = ToProto(kT0);
  EXPECT_THAT(store->Append({two}, {earlier}),
              StatusIs(absl::StatusCode::kInternal,
                       HasSubstr("alert a-2 has created_at")));
  StoredAlert later = MakeAlert(2, two, "a-2");
  *later.alert.mutable_created_at() = ToProto(kT0 + absl::Seconds(11));
  EXPECT_THAT(store->Append({two}, {later, MakeAlert(3, two, "a-3")}),
              StatusIs(absl::StatusCode::kInternal,
                       HasSubstr("alert a-3 has created_at")));

  absl::StatusOr<LogHead> head = store->Head();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->last_sequence, 1u);
  EXPECT_EQ(head->last_alert_position, 1u);
  // An equal creation time continues the log.
  EXPECT_THAT(store->Append({two}, {MakeAlert(2, two, "a-2")}), IsOk());
}

TEST_F(SqliteEventStoreTest, GapInSequenceIsRejectedAndNothingStored) {
  std::unique_ptr<SqliteEventStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  // Not starting at 1 on an empty log.
  const Group starts_at_two = MakeGroup(2, 1, kT0);
  EXPECT_THAT(store->Append(starts_at_two.events, {}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("sequence 2")));

  const Group one = MakeGroup(1, 1, kT0);
  ASSERT_THAT(store->Append(one.events, one.alerts), IsOk());

  // An event gap: 2 then 4.
  const StoredEvent two = MakeEvent(2, "ev-2", kT0);
  const StoredEvent four = MakeEvent(4, "ev-4", kT0);
  EXPECT_THAT(store->Append({two, four}, {}),
              StatusIs(absl::StatusCode::kInternal));
  // An alert gap: the next position is 2, not 3.
  EXPECT_THAT(store->Append({two}, {MakeAlert(3, two, "a-3")}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("position 3")));

  absl::StatusOr<LogHead> head = store->Head();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->last_sequence, 1u);
  EXPECT_EQ(head->last_alert_position, 1u);
  absl::flat_hash_map<std::string, EventRecord> found;
  ASSERT_THAT(store->LookupEvents({"ev-2", "ev-4"}, &found), IsOk());
  EXPECT_THAT(found, IsEmpty());
}

TEST_F(SqliteEventStoreTest, FailedAppendStoresNothing) {
  std::unique_ptr<SqliteEventStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  const Group one = MakeGroup(1, 1, kT0);
  ASSERT_THAT(store->Append(one.events, one.alerts), IsOk());

  // Event 3 reuses ev-1's id: the UNIQUE constraint fails after event 2 and
  // its alert were inserted, and the whole append is rolled back.
  const StoredEvent two = MakeEvent(2, "ev-2", kT0, {"a-2"});
  const StoredEvent three = MakeEvent(3, "ev-1", kT0);
  EXPECT_THAT(store->Append({two, three}, {MakeAlert(2, two, "a-2")}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("UNIQUE")));

  absl::StatusOr<LogHead> head = store->Head();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->last_sequence, 1u);
  EXPECT_EQ(head->last_alert_position, 1u);
  absl::flat_hash_map<std::string, EventRecord> found;
  ASSERT_THAT(store->LookupEvents({"ev-2"}, &found), IsOk());
  EXPECT_THAT(found, IsEmpty());

  // The writer is usable again: the same event 2 now goes in.
  EXPECT_THAT(store->Append({two}, {MakeAlert(2, two, "a-2")}), IsOk());
}

TEST_F(SqliteEventStoreTest, AlertOfUnknownEventIsRejected) {
  std::unique_ptr<SqliteEventStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  const StoredEvent stray = MakeEvent(1, "never-stored", kT0);
  EXPECT_THAT(store->Append({}, {MakeAlert(1, stray, "a-1")}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("never-stored")));

  // An alert of an event stored by an earlier append is fine.
  const StoredEvent one = MakeEvent(1, "ev-1", kT0);
  ASSERT_THAT(store->Append({one}, {}), IsOk());
  EXPECT_THAT(store->Append({}, {MakeAlert(1, one, "a-1")}), IsOk());
}

TEST_F(SqliteEventStoreTest, LookupFindsKnownIdsOnly) {
  std::unique_ptr<SqliteEventStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  const Group one = MakeGroup(1, 2, kT0);
  const Group two = MakeGroup(2, 0, kT0);
  ASSERT_THAT(store->Append(one.events, one.alerts), IsOk());
  ASSERT_THAT(store->Append(two.events, two.alerts), IsOk());

  absl::flat_hash_map<std::string, EventRecord> found;
  ASSERT_THAT(store->LookupEvents({"ev-2", "unknown", "ev-1"}, &found), IsOk());
  ASSERT_THAT(found, SizeIs(2));
  EXPECT_EQ(found["ev-1"].sequence, 1u);
  EXPECT_EQ(found["ev-1"].content_hash, one.events[0].content_hash);
  EXPECT_THAT(found["ev-1"].alert_ids, ElementsAre("alert-1-0", "alert-1-1"));
  EXPECT_EQ(found["ev-2"].sequence, 2u);
  EXPECT_THAT(found["ev-2"].alert_ids, IsEmpty());
  EXPECT_FALSE(found.contains("unknown"));
}

TEST_F(SqliteEventStoreTest, ReadAlertsRespectsMaxBytesButReturnsAtLeastOne) {
  std::unique_ptr<SqliteEventStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  const StoredEvent event = MakeEvent(1, "ev-1", kT0, {"a-1", "a-2", "a-3"});
  const std::vector<StoredAlert> alerts = {
      MakeAlert(1, event, "a-1", std::string(100, 'x')),
      MakeAlert(2, event, "a-2", std::string(200, 'y')),
      MakeAlert(3, event, "a-3", std::string(300, 'z'))};
  ASSERT_THAT(store->Append({event}, alerts), IsOk());
  const size_t size1 = alerts[0].alert.ByteSizeLong();
  const size_t size2 = alerts[1].alert.ByteSizeLong();

  // Exactly two fit.
  std::vector<StoredAlert> read;
  ASSERT_THAT(store->ReadAlerts(0, 10, size1 + size2, &read), IsOk());
  EXPECT_THAT(read, SizeIs(2));
  // One byte less: only the first.
  read.clear();
  ASSERT_THAT(store->ReadAlerts(0, 10, size1 + size2 - 1, &read), IsOk());
  EXPECT_THAT(read, SizeIs(1));
  // An alert larger than max_bytes still comes, alone.
  read.clear();
  ASSERT_THAT(store->ReadAlerts(1, 10, 1, &read), IsOk());
  ASSERT_THAT(read, SizeIs(1));
  EXPECT_EQ(read[0].position, 2u);
  // max_count bounds too.
  read.clear();
  ASSERT_THAT(store->ReadAlerts(0, 2, 1 << 20, &read), IsOk());
  EXPECT_THAT(read, SizeIs(2));
}

TEST_F(SqliteEventStoreTest, ReadAlertsAfterPositionPages) {
  std::unique_ptr<SqliteEventStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    const Group group = MakeGroup(seq, 1, kT0);
    ASSERT_THAT(store->Append(group.events, group.alerts), IsOk());
  }
  std::vector<uint64_t> pages_seen;
  uint64_t after = 0;
  int pages = 0;
  for (;;) {
    std::vector<StoredAlert> page;
    ASSERT_THAT(store->ReadAlerts(after, 2, 1 << 20, &page), IsOk());
    if (page.empty()) break;
    ++pages;
    for (const StoredAlert& alert : page) {
      pages_seen.push_back(alert.position);
      EXPECT_EQ(alert.alert.alert_id(),
                absl::StrCat("alert-", alert.position, "-0"));
      // Subscribers' responses are built from these bytes.
      EXPECT_EQ(alert.payload, SerializeDeterministically(alert.alert));
    }
    after = page.back().position;
    ASSERT_LE(pages, 5);
  }
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(pages_seen, ElementsAre(1, 2, 3, 4, 5));

  std::vector<StoredEvent> events;
  ASSERT_THAT(store->ReadEvents(3, 10, &events), IsOk());
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(events[0].sequence, 4u);
  EXPECT_EQ(events[1].sequence, 5u);
}

TEST_F(SqliteEventStoreTest, GroupsOfMegabytesCommitAndReadBackWhole) {
  // Each group's WAL frames are about 1 MiB, gathered in memory by the
  // store's VFS and written in pieces SQLite's unix VFS takes (a write of
  // 128 KiB or more fails there with SQLITE_FULL); the four fill the WAL
  // past an automatic checkpoint (1,000 pages).
  constexpr int kGroups = 4;
  constexpr int kPerGroup = 1500;
  std::unique_ptr<SqliteEventStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  uint64_t seq = 0;
  for (int g = 0; g < kGroups; ++g) {
    std::vector<StoredEvent> group;
    for (int i = 0; i < kPerGroup; ++i) {
      ++seq;
      StoredEvent event = MakeEvent(seq, absl::StrCat("ev-", seq), kT0);
      event.event.set_summary(
          absl::StrCat(std::string(600, 'x'), " summary of ", seq));
      group.push_back(std::move(event));
    }
    ASSERT_THAT(store->Append(group, {}), IsOk());
  }
  const auto read_all = [](SqliteEventStore& from) {
    std::vector<StoredEvent> events;
    EXPECT_THAT(from.ReadEvents(0, kGroups * kPerGroup + 1, &events), IsOk());
    return events;
  };
  std::vector<StoredEvent> events = read_all(*store);
  ASSERT_THAT(events, SizeIs(kGroups * kPerGroup));
  EXPECT_EQ(events.back().sequence, seq);
  EXPECT_THAT(events.back().event.summary(),
              HasSubstr(absl::StrCat(" summary of ", seq)));
  store.reset();
  store = OpenStore();
  ASSERT_NE(store, nullptr);
  events = read_all(*store);
  ASSERT_THAT(events, SizeIs(kGroups * kPerGroup));
  EXPECT_EQ(events[kPerGroup].event.event_id(),
            absl::StrCat("ev-", kPerGroup + 1));
}

TEST_F(SqliteEventStoreTest, AlertPositionBeforeTime) {
  std::unique_ptr<SqliteEventStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  // Alerts 1 and 2 at t0, 3 at t1, 4 at t2.
  const absl::Time t1 = kT0 + absl::Seconds(10);
  const absl::Time t2 = kT0 + absl::Seconds(20);
  const Group one = MakeGroup(1, 2, kT0);
  const Group two = MakeGroup(2, 1, t1);
  ASSERT_THAT(store->Append(one.events, one.alerts), IsOk());
  StoredEvent three = MakeEvent(3, "ev-3", t2, {"a-4"});
  StoredAlert fourth = MakeAlert(4, three, "a-4");
  ASSERT_THAT(store->Append({two.events[0], three},
                            {MakeAlert(3, two.events[0], "a-3"), fourth}),
              IsOk());

  EXPECT_EQ(store->AlertPositionBefore(absl::InfinitePast()).value(), 0u);
  EXPECT_EQ(store->AlertPositionBefore(kT0).value(), 0u);
  EXPECT_EQ(store->AlertPositionBefore(kT0 + absl::Nanoseconds(1)).value(), 2u);
  // Sub-nanosecond: still strictly after t0.
  EXPECT_EQ(store->AlertPositionBefore(kT0 + absl::Nanoseconds(1) / 4).value(),
            2u);
  EXPECT_EQ(store->AlertPositionBefore(t1).value(), 2u);
  EXPECT_EQ(store->AlertPositionBefore(t2).value(), 3u);
  EXPECT_EQ(store->AlertPositionBefore(t2 + absl::Seconds(1)).value(), 4u);
  EXPECT_EQ(store->AlertPositionBefore(absl::InfiniteFuture()).value(), 4u);
}

TEST_F(SqliteEventStoreTest, ConcurrentReadersWhileWriting) {
  // Two read connections for three readers: readers also wait for one.
  std::unique_ptr<SqliteEventStore> store = OpenStore(2);
  ASSERT_NE(store, nullptr);
  constexpr uint64_t kGroups = 60;
  constexpr int kAlertsPerEvent = 2;
  std::atomic<bool> writer_done{false};

  // Each reader runs `step` until it returns false (caught up), repeatedly
  // until the writer is done: bounded by the writer's finite work.
  auto run_until_caught_up = [&writer_done](const auto& step) {
    for (;;) {
      const bool done = writer_done.load();
      while (step()) {
      }
      if (done || ::testing::Test::HasFailure()) return;
    }
  };

  // Pages through events; each event's alerts must already be readable.
  uint64_t events_seen = 0;
  std::thread event_reader([&] {
    run_until_caught_up([&] {
      std::vector<StoredEvent> events;
      EXPECT_THAT(store->ReadEvents(events_seen, 7, &events), IsOk());
      for (const StoredEvent& event : events) {
        EXPECT_EQ(event.sequence, events_seen + 1);
        events_seen = event.sequence;
        std::vector<StoredAlert> alerts;
        EXPECT_THAT(store->ReadAlerts((event.sequence - 1) * kAlertsPerEvent,
                                      kAlertsPerEvent, 1 << 20, &alerts),
                    IsOk());
        std::vector<std::string> ids;
        ids.reserve(alerts.size());
        for (const StoredAlert& alert : alerts) {
          ids.push_back(alert.alert.alert_id());
        }
        EXPECT_EQ(ids, event.alert_ids) << "event " << event.sequence;
      }
      return !events.empty();
    });
  });
  // Pages through alerts; each alert's event must already be known.
  uint64_t alerts_seen = 0;
  std::thread alert_reader([&] {
    run_until_caught_up([&] {
      std::vector<StoredAlert> alerts;
      EXPECT_THAT(store->ReadAlerts(alerts_seen, 5, 1 << 20, &alerts), IsOk());
      for (const StoredAlert& alert : alerts) {
        EXPECT_EQ(alert.position, alerts_seen + 1);
        alerts_seen = alert.position;
        absl::flat_hash_map<std::string, EventRecord> found;
        EXPECT_THAT(
            store->LookupEvents({alert.alert.event().event_id()}, &found),
            IsOk());
        EXPECT_THAT(found, SizeIs(1)) << "alert " << alert.position;
      }
      return !alerts.empty();
    });
  });
  // Head is one snapshot: never an event without its alerts.
  uint64_t last_head = 0;
  std::thread head_reader([&] {
    run_until_caught_up([&] {
      absl::StatusOr<LogHead> head = store->Head();
      EXPECT_THAT(head, IsOk());
      if (!head.ok()) return false;
      EXPECT_EQ(head->last_alert_position,
                head->last_sequence * kAlertsPerEvent);
      EXPECT_GE(head->last_sequence, last_head);
      const bool moved = head->last_sequence != last_head;
      last_head = head->last_sequence;
      return moved;
    });
  });

  for (uint64_t seq = 1; seq <= kGroups; ++seq) {
    const Group group =
        MakeGroup(seq, kAlertsPerEvent, kT0 + absl::Milliseconds(seq));
    EXPECT_THAT(store->Append(group.events, group.alerts), IsOk());
  }
  writer_done.store(true);
  event_reader.join();
  alert_reader.join();
  head_reader.join();
  EXPECT_EQ(events_seen, kGroups);
  EXPECT_EQ(alerts_seen, kGroups * kAlertsPerEvent);
  EXPECT_EQ(last_head, kGroups);
}

TEST_F(SqliteEventStoreTest, NewerSchemaIsRefused) {
  { ASSERT_NE(OpenStore(), nullptr); }
  RawQuery("PRAGMA user_version = 999");
  SqliteEventStoreOptions options;
  options.data_dir = dir_;
  EXPECT_THAT(SqliteEventStore::Open(options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("schema version 999")));
}

TEST_F(SqliteEventStoreTest, NotADatabaseIsRefused) {
  {
    std::ofstream garbage(DbPath());
    for (int i = 0; i < 100; ++i) garbage << "this is not a database\n";
  }
  SqliteEventStoreOptions options;
  options.data_dir = dir_;
  EXPECT_THAT(SqliteEventStore::Open(options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("not a dipwire database")));
}

TEST_F(SqliteEventStoreTest, ForeignSqliteDatabaseIsRefusedAndLeftAlone) {
  RawQuery("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT)");
  SqliteEventStoreOptions options;
  options.data_dir = dir_;
  EXPECT_THAT(SqliteEventStore::Open(options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("not a dipwire database")));
  EXPECT_EQ(RawQuery("PRAGMA journal_mode"), "delete");
}

TEST_F(SqliteEventStoreTest, SubscriptionIsCreatedMovedAndRead) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto missing = store->GetSubscription("desk");
  ASSERT_THAT(missing, IsOk());
  EXPECT_FALSE(missing->has_value());

  ASSERT_THAT(store->PutSubscription("desk", 5, kT0), IsOk());
  auto found = store->GetSubscription("desk");
  ASSERT_THAT(found, IsOk());
  EXPECT_EQ(*found, std::optional<uint64_t>(5));

  // A put moves it, also backwards (a seek).
  ASSERT_THAT(store->PutSubscription("desk", 2, kT0 + absl::Seconds(1)),
              IsOk());
  EXPECT_EQ(*store->GetSubscription("desk"), std::optional<uint64_t>(2));
}

TEST_F(SqliteEventStoreTest, AdvanceSubscriptionIsMonotonic) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->PutSubscription("desk", 0, kT0), IsOk());
  ASSERT_THAT(store->AdvanceSubscription("desk", 7, kT0 + absl::Seconds(1)),
              IsOk());
  // An older position is an OK no-op, and does not touch updated_at.
  EXPECT_THAT(store->AdvanceSubscription("desk", 3, kT0 + absl::Seconds(2)),
              IsOk());
  auto listed = store->ListSubscriptions();
  ASSERT_THAT(listed, IsOk());
  ASSERT_THAT(*listed, SizeIs(1));
  EXPECT_EQ((*listed)[0].position, 7u);
  EXPECT_EQ((*listed)[0].updated_at, kT0 + absl::Seconds(1));
}

TEST_F(SqliteEventStoreTest, AdvanceOrDeleteOfUnknownSubscriptionIsNotFound) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->AdvanceSubscription("nobody", 1, kT0),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nobody")));
  EXPECT_THAT(store->DeleteSubscription("nobody"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nobody")));
  auto missing = store->GetSubscription("nobody");
  ASSERT_THAT(missing, IsOk());
  EXPECT_FALSE(missing->has_value());
}

TEST_F(SqliteEventStoreTest, ListSubscriptionsByNameAndDelete) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->PutSubscription("night", 4, kT0), IsOk());
  ASSERT_THAT(store->PutSubscription("day", 1, kT0 + absl::Seconds(1)), IsOk());
  auto listed = store->ListSubscriptions();
  ASSERT_THAT(listed, IsOk());
  ASSERT_THAT(*listed, SizeIs(2));
  EXPECT_EQ((*listed)[0].name, "day");
  EXPECT_EQ((*listed)[0].position, 1u);
  EXPECT_EQ((*listed)[0].updated_at, kT0 + absl::Seconds(1));
  EXPECT_EQ((*listed)[1].name, "night");

  ASSERT_THAT(store->DeleteSubscription("day"), IsOk());
  listed = store->ListSubscriptions();
  ASSERT_THAT(listed, IsOk());
  ASSERT_THAT(*listed, SizeIs(1));
  EXPECT_EQ((*listed)[0].name, "night");
}

TEST_F(SqliteEventStoreTest, SubscriptionsSurviveReopen) {
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    ASSERT_THAT(store->PutSubscription("desk", 3, kT0), IsOk());
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->GetSubscription("desk"), std::optional<uint64_t>(3));
}

TEST_F(SqliteEventStoreTest, VersionOneDatabaseWithoutSubscriptionsGetsThem) {
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    const Group one = MakeGroup(1, 1, kT0);
    ASSERT_THAT(store->Append(one.events, one.alerts), IsOk());
  }
  // What a database made before durable subscriptions looks like.
  RawQuery("DROP TABLE subscriptions");
  EXPECT_EQ(RawQuery("PRAGMA user_version"), "1");

  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->PutSubscription("desk", 1, kT0), IsOk());
  EXPECT_EQ(*store->GetSubscription("desk"), std::optional<uint64_t>(1));
  auto head = store->Head();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->last_alert_position, 1u);
  EXPECT_EQ(RawQuery("PRAGMA user_version"), "1");
}

DeadLetterRecord MakeDeadLetter(absl::string_view sink, uint64_t position) {
  DeadLetterRecord record;
  record.sink = std::string(sink);
  record.position = position;
  record.alert.set_alert_id(absl::StrCat("alert-", position));
  record.alert.set_headline("Talks stall");
  record.attempts = 3;
  record.last_error = "HTTP 500";
  record.failed_at = kT0 + absl::Seconds(static_cast<int64_t>(position));
  return record;
}

TEST_F(SqliteEventStoreTest, DeadLettersArePutListedRequeuedAndDeleted) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->PutDeadLetter(MakeDeadLetter("wire", 7)), IsOk());
  ASSERT_THAT(store->PutDeadLetter(MakeDeadLetter("wire", 3)), IsOk());
  ASSERT_THAT(store->PutDeadLetter(MakeDeadLetter("slack", 5)), IsOk());
  // Giving up on the same alert again replaces the record.
  DeadLetterRecord again = MakeDeadLetter("wire", 7);
  again.attempts = 6;
  ASSERT_THAT(store->PutDeadLetter(again), IsOk());

  std::vector<DeadLetterRecord> listed;
  int64_t total = 0;
  ASSERT_THAT(store->ListDeadLetters("wire", false, 10, &listed, &total),
              IsOk());
  EXPECT_EQ(total, 2);
  ASSERT_THAT(listed, SizeIs(2));
  EXPECT_EQ(listed[0].position, 3u);
  EXPECT_EQ(listed[0].alert.alert_id(), "alert-3");
  EXPECT_EQ(listed[0].last_error, "HTTP 500");
  EXPECT_EQ(listed[0].failed_at, kT0 + absl::Seconds(3));
  EXPECT_FALSE(listed[0].requeued);
  EXPECT_EQ(listed[1].position, 7u);
  EXPECT_EQ(listed[1].attempts, 6);

  listed.clear();
  ASSERT_THAT(store->ListDeadLetters("wire", true, 10, &listed, nullptr),
              IsOk());
  EXPECT_THAT(listed, SizeIs(0));
  auto requeued = store->RequeueDeadLetters("wire");
  ASSERT_THAT(requeued, IsOk());
  EXPECT_EQ(*requeued, 2);
  ASSERT_THAT(store->ListDeadLetters("wire", true, 1, &listed, nullptr),
              IsOk());
  ASSERT_THAT(listed, SizeIs(1));
  EXPECT_TRUE(listed[0].requeued);
  EXPECT_EQ(listed[0].position, 3u);

  ASSERT_THAT(store->DeleteDeadLetter("wire", 3), IsOk());
  ASSERT_THAT(store->DeleteDeadLetter("wire", 3), IsOk());  // already gone
  ASSERT_THAT(store->ListDeadLetters("wire", false, 0, nullptr, &total),
              IsOk());
  EXPECT_EQ(total, 1);
  ASSERT_THAT(store->ListDeadLetters("slack", false, 0, nullptr, &total),
              IsOk());
  EXPECT_EQ(total, 1);
}

TEST_F(SqliteEventStoreTest, DeadLettersSurviveReopenAndOlderDatabasesGetThem) {
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
  }
  // What a database made before webhook sinks looks like.
  RawQuery("DROP TABLE dead_letters");
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    ASSERT_THAT(store->PutDeadLetter(MakeDeadLetter("wire", 1)), IsOk());
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  int64_t total = 0;
  ASSERT_THAT(store->ListDeadLetters("wire", false, 0, nullptr, &total),
              IsOk());
  EXPECT_EQ(total, 1);
  EXPECT_EQ(RawQuery("PRAGMA user_version"), "1");
}

// Appends events 1..n, each with one alert (position = sequence), committed
// a minute apart from kT0.
void AppendEvents(SqliteEventStore& store, uint64_t first, uint64_t last) {
  for (uint64_t seq = first; seq <= last; ++seq) {
    const Group group =
        MakeGroup(seq, 1, kT0 + absl::Minutes(static_cast<int64_t>(seq)));
    ASSERT_THAT(store.Append(group.events, group.alerts), IsOk());
  }
}

EngineSnapshot MakeSnapshot(uint64_t sequence, uint64_t alert_position,
                            std::string state) {
  EngineSnapshot snapshot;
  snapshot.sequence = sequence;
  snapshot.alert_position = alert_position;
  snapshot.state = std::move(state);
  snapshot.created_at = kT0 + absl::Hours(1);
  return snapshot;
}

TEST_F(SqliteEventStoreTest, SnapshotRoundTripsAndTheNewestWins) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->NewestSnapshot(), std::nullopt);
  AppendEvents(*store, 1, 4);
  ASSERT_THAT(store->PutSnapshot(MakeSnapshot(2, 2, std::string("a\0b", 3))),
              IsOk());
  ASSERT_THAT(store->PutSnapshot(MakeSnapshot(4, 4, "state at 4")), IsOk());
  // Beyond the head: the caller's bug.
  EXPECT_THAT(store->PutSnapshot(MakeSnapshot(5, 4, "x")),
              StatusIs(absl::StatusCode::kInternal));
  store.reset();
  store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto newest = store->NewestSnapshot();
  ASSERT_THAT(newest, IsOk());
  ASSERT_TRUE(newest->has_value());
  EXPECT_EQ((*newest)->sequence, 4u);
  EXPECT_EQ((*newest)->alert_position, 4u);
  EXPECT_EQ((*newest)->state, "state at 4");
  EXPECT_EQ((*newest)->created_at, kT0 + absl::Hours(1));
}

TEST_F(SqliteEventStoreTest, TrimEventsStopsAtTheNewestSnapshotInChunks) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  AppendEvents(*store, 1, 10);
  // No snapshot: nothing that replay needs is removed.
  EXPECT_EQ(*store->TrimEvents(8, 100), 0u);
  ASSERT_THAT(store->PutSnapshot(MakeSnapshot(3, 3, "old")), IsOk());
  ASSERT_THAT(store->PutSnapshot(MakeSnapshot(7, 7, "new")), IsOk());
  // At most 3 rows per call, each call its own transaction.
  EXPECT_EQ(*store->TrimEvents(8, 3), 3u);
  EXPECT_EQ(*store->TrimEvents(8, 3), 6u);
  EXPECT_EQ(*store->TrimEvents(8, 3), 7u);  // the snapshot's sequence
  EXPECT_EQ(*store->TrimEvents(8, 3), 7u);
  EXPECT_EQ(RawQuery("SELECT COUNT(*) FROM engine_snapshots"), "1");
  EXPECT_EQ(RawQuery("SELECT COUNT(*) FROM events WHERE length(payload) = 0"),
            "7");

  auto head = store->Head();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->last_sequence, 10u);
  EXPECT_EQ(head->events_trimmed_through, 7u);
  EXPECT_EQ(head->alerts_trimmed_through, 0u);
  // Replay and listings never see a payload-less event.
  std::vector<StoredEvent> events;
  ASSERT_THAT(store->ReadEvents(0, 100, &events), IsOk());
  ASSERT_THAT(events, SizeIs(3));
  EXPECT_EQ(events[0].sequence, 8u);
  EXPECT_EQ(events[0].event.event_id(), "ev-8");
}

TEST_F(SqliteEventStoreTest, LookupAfterTrimmingStillFindsTheOriginal) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  AppendEvents(*store, 1, 4);
  ASSERT_THAT(store->PutSnapshot(MakeSnapshot(4, 4, "s")), IsOk());
  ASSERT_EQ(*store->TrimEvents(3, 5000), 3u);
  ASSERT_EQ(*store->TrimAlerts(3, 5000), 3u);
  absl::flat_hash_map<std::string, EventRecord> found;
  const std::vector<std::string> ids = {"ev-2", "ev-4"};
  ASSERT_THAT(store->LookupEvents(ids, &found), IsOk());
  ASSERT_TRUE(found.contains("ev-2"));
  EXPECT_EQ(found["ev-2"].sequence, 2u);
  EXPECT_EQ(found["ev-2"].content_hash, std::string(32, '\2'));
  EXPECT_THAT(found["ev-2"].alert_ids, ElementsAre("alert-2-0"));
  EXPECT_EQ(found["ev-4"].sequence, 4u);
  // The log goes on where it was.
  AppendEvents(*store, 5, 5);
  EXPECT_EQ(store->Head()->last_sequence, 5u);
}

TEST_F(SqliteEventStoreTest, AlertPositionBeforeTimeAmongTheAlertsKept) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  // Alert n was created at kT0 + n minutes.
  AppendEvents(*store, 1, 9);
  const auto minute = [](int64_t n) { return kT0 + absl::Minutes(n); };
  EXPECT_EQ(*store->AlertPositionBefore(minute(5)), 4u);
  ASSERT_THAT(store->PutSnapshot(MakeSnapshot(9, 9, "s")), IsOk());
  ASSERT_EQ(*store->TrimAlerts(6, 5000), 6u);
  // Alerts 7..9 are kept: a time among them finds the one before it...
  EXPECT_EQ(*store->AlertPositionBefore(minute(8)), 7u);
  EXPECT_EQ(*store->AlertPositionBefore(minute(8) + absl::Nanoseconds(1)), 8u);
  EXPECT_EQ(*store->AlertPositionBefore(absl::InfiniteFuture()), 9u);
  // ...and a time at or before the oldest kept finds none: 0, as for an
  // empty log, whatever was created before it and deleted.
  EXPECT_EQ(*store->AlertPositionBefore(minute(7)), 0u);
  EXPECT_EQ(*store->AlertPositionBefore(minute(5)), 0u);
  ASSERT_EQ(*store->TrimAlerts(9, 5000), 9u);
  EXPECT_EQ(*store->AlertPositionBefore(absl::InfiniteFuture()), 0u);
}

TEST_F(SqliteEventStoreTest, OpeningDropsTheAlertTimeIndexOfEarlierVersions) {
  // A database an earlier dipwired created has an index on created_at that
  // every commit wrote and nothing reads any more.
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    AppendEvents(*store, 1, 4);
  }
  RawQuery("CREATE INDEX alerts_by_created_at ON alerts(created_at_ns)");
  const std::string count_index =
      "SELECT COUNT(*) FROM sqlite_schema"
      " WHERE name = 'alerts_by_created_at'";
  ASSERT_EQ(RawQuery(count_index), "1");

  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(RawQuery(count_index), "0");
  // What it indexed is still found, and the log goes on.
  EXPECT_EQ(*store->AlertPositionBefore(kT0 + absl::Minutes(3)), 2u);
  AppendEvents(*store, 5, 5);
  EXPECT_EQ(*store->AlertPositionBefore(absl::InfiniteFuture()), 5u);
}

TEST_F(SqliteEventStoreTest, TrimAlertsMakesOlderCursorsOutOfRange) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  AppendEvents(*store, 1, 6);
  EXPECT_EQ(*store->TrimAlerts(4, 3), 3u);
  EXPECT_EQ(*store->TrimAlerts(4, 3), 4u);
  std::vector<StoredAlert> alerts;
  // Reading after the mark: the kept alerts.
  ASSERT_THAT(store->ReadAlerts(4, 100, 1 << 20, &alerts), IsOk());
  ASSERT_THAT(alerts, SizeIs(2));
  EXPECT_EQ(alerts[0].position, 5u);
  // Reading from before it is never a silent skip.
  alerts.clear();
  EXPECT_THAT(store->ReadAlerts(2, 100, 1 << 20, &alerts),
              StatusIs(absl::StatusCode::kOutOfRange,
                       HasSubstr(absl::StrCat("the oldest cursor still "
                                              "available is ",
                                              EncodeCursor(4)))));
  EXPECT_THAT(alerts, IsEmpty());
  // Every alert deleted: the head stays, and reading from before is still
  // out of range.
  EXPECT_EQ(*store->TrimAlerts(100, 5000), 6u);
  auto head = store->Head();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->last_alert_position, 6u);
  EXPECT_EQ(head->alerts_trimmed_through, 6u);
  EXPECT_THAT(store->ReadAlerts(5, 100, 1 << 20, &alerts),
              StatusIs(absl::StatusCode::kOutOfRange));
  ASSERT_THAT(store->ReadAlerts(6, 100, 1 << 20, &alerts), IsOk());
  EXPECT_THAT(alerts, IsEmpty());
  // The next alert continues the log after the deleted ones.
  AppendEvents(*store, 7, 7);
  ASSERT_THAT(store->ReadAlerts(6, 100, 1 << 20, &alerts), IsOk());
  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].position, 7u);
}

TEST_F(SqliteEventStoreTest, EventSequenceBeforeTime) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->EventSequenceBefore(kT0 + absl::Hours(1)), 0u);
  AppendEvents(*store, 1, 5);  // committed at kT0 + 1..5 minutes
  EXPECT_EQ(*store->EventSequenceBefore(kT0), 0u);
  EXPECT_EQ(*store->EventSequenceBefore(kT0 + absl::Minutes(1)), 0u);
  EXPECT_EQ(*store->EventSequenceBefore(kT0 + absl::Seconds(61)), 1u);
  EXPECT_EQ(*store->EventSequenceBefore(kT0 + absl::Minutes(4)), 3u);
  EXPECT_EQ(*store->EventSequenceBefore(kT0 + absl::Hours(1)), 5u);
}

TEST_F(SqliteEventStoreTest, DatabaseWithoutRetentionTablesOpensAndTrims) {
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    AppendEvents(*store, 1, 3);
  }
  // What a database made before retention looks like.
  RawQuery("DROP TABLE engine_snapshots");
  RawQuery("DELETE FROM meta WHERE key LIKE '%trimmed_through'");
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto head = store->Head();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->last_sequence, 3u);
  EXPECT_EQ(head->events_trimmed_through, 0u);
  EXPECT_EQ(head->alerts_trimmed_through, 0u);
  ASSERT_THAT(store->PutSnapshot(MakeSnapshot(3, 3, "s")), IsOk());
  EXPECT_EQ(*store->TrimEvents(2, 5000), 2u);
  EXPECT_EQ(*store->TrimAlerts(1, 5000), 1u);
  EXPECT_EQ(RawQuery("PRAGMA user_version"), "1");
}

}  // namespace
}  // namespace dipwire::server
