#include "server/sqlite_wal_vfs.h"

#include <sqlite3.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/dipwired_process.h"

namespace dipwire::server {
namespace {

using ::dipwire::testing::NewTempDir;

// One SQLite connection, through the buffered-WAL VFS unless `vfs` says
// otherwise (nullptr: the default VFS, as another program would open it).
class Db {
 public:
  Db(const std::string& uri, const char* vfs) {
    const int rc = sqlite3_open_v2(
        uri.c_str(), &db_,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, vfs);
    EXPECT_EQ(rc, SQLITE_OK) << sqlite3_errmsg(db_);
  }
  ~Db() { sqlite3_close_v2(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs `sql` (statements without results); "" or SQLite's message.
  std::string Exec(const std::string& sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    std::string message = rc == SQLITE_OK ? "" : absl::StrCat(rc, ": ", error);
    sqlite3_free(error);
    return message;
  }

  // The first column of the first row of `sql`, as text, or the error.
  std::string Query(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr);
    if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
    std::string out =
        rc == SQLITE_ROW
            ? std::string(
                  reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)))
            : absl::StrCat("error ", rc, ": ", sqlite3_errmsg(db_));
    sqlite3_finalize(stmt);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

// A writer commits rows one by one while a reader on another connection
// counts them after each commit: the reader must see every commit whole.
void ReaderSeesEveryCommit(const std::string& uri) {
  Db writer(uri, BufferedWalVfsName());
  ASSERT_EQ(writer.Exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                        " CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)"),
            "");
  Db reader(uri, BufferedWalVfsName());
  ASSERT_EQ(reader.Exec("PRAGMA query_only = ON"), "");
  // 3 KiB rows: a commit writes a page or two, and 400 of them pass the
  // automatic checkpoint.
  for (int i = 1; i <= 400; ++i) {
    ASSERT_EQ(writer.Exec(absl::StrCat("INSERT INTO t VALUES(", i,
                                       ", randomblob(3000))")),
              "");
    ASSERT_EQ(reader.Query("SELECT count(*) FROM t"), absl::StrCat(i))
        << "after commit " << i;
  }
  EXPECT_EQ(reader.Query("PRAGMA integrity_check"), "ok");
}

TEST(BufferedWalVfsTest, ReaderSeesEveryCommit) {
  ReaderSeesEveryCommit(
      absl::StrCat("file:", NewTempDir("wal-vfs"), "/db.sqlite"));
}

TEST(BufferedWalVfsTest, ReaderSeesEveryCommitWithoutPowersafeOverwrite) {
  // Without powersafe overwrite SQLite pads each commit to a sector and
  // writes the end of the padding after the sync, once the commit is
  // visible: that WAL must not be gathered.
  ReaderSeesEveryCommit(
      absl::StrCat("file:", NewTempDir("wal-vfs"), "/db.sqlite?psow=0"));
}

TEST(BufferedWalVfsTest, ARolledBackTransactionLeavesNothingForLater) {
  // A transaction that spills pages into the WAL and rolls back, then
  // another program's commit: the frames spilled must not reach the WAL
  // afterwards, over that program's.
  const std::string uri =
      absl::StrCat("file:", NewTempDir("wal-vfs"), "/db.sqlite");
  Db writer(uri, BufferedWalVfsName());
  ASSERT_EQ(writer.Exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                        " PRAGMA wal_autocheckpoint = 0;"
                        " CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB);"
                        " WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL"
                        " SELECT i + 1 FROM s WHERE i < 20)"
                        " INSERT INTO t SELECT i, zeroblob(100) FROM s;"
                        " PRAGMA wal_checkpoint(PASSIVE);"
                        " PRAGMA cache_size = 2; PRAGMA cache_spill = 1"),
            "");
  ASSERT_EQ(writer.Exec("BEGIN; WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL"
                        " SELECT i + 1 FROM s WHERE i < 6)"
                        " INSERT INTO t SELECT 1000 + i, randomblob(3000)"
                        " FROM s; ROLLBACK"),
            "");
  {
    Db other(uri, nullptr);
    ASSERT_EQ(other.Exec("PRAGMA synchronous = FULL;"
                         " INSERT INTO t VALUES(500, randomblob(3000));"
                         " INSERT INTO t VALUES(501, randomblob(3000))"),
              "");
  }
  ASSERT_EQ(writer.Query("SELECT count(*) FROM t"), "22");
  ASSERT_EQ(writer.Exec("INSERT INTO t VALUES(600, 1)"), "");
  Db fresh(uri, nullptr);
  EXPECT_EQ(fresh.Query("SELECT count(*) FROM t"), "23");
  EXPECT_EQ(fresh.Query("PRAGMA integrity_check"), "ok");
}

}  // namespace
}  // namespace dipwire::server
