#include "server/sqlite_event_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/logging.h"
#include "common/proto_bytes.h"
#include "common/status_macros.h"
#include "google/protobuf/message_lite.h"
#include "server/cursor.h"
#include "server/sqlite_wal_vfs.h"

namespace dipwire::server {
namespace {

// PRAGMA application_id of a dipwire database: "DIPW".
constexpr int64_t kApplicationId = 0x44495057;
constexpr int kBusyTimeoutMs = 5000;

// Times are stored as int64 nanoseconds since the Unix epoch, so that they
// round-trip exactly (derivation must see the same committed_at after a
// restart as before it).
constexpr absl::Time kMinStorableTime =
    absl::FromUnixNanos(std::numeric_limits<int64_t>::min());
constexpr absl::Time kMaxStorableTime =
    absl::FromUnixNanos(std::numeric_limits<int64_t>::max());

// Schema version 1. STRICT tables make SQLite enforce the column types.
// alert_ids is the netstring encoding of the ids ("3:a-1,3:a-2,"): any bytes,
// and readable in the sqlite3 shell. alerts.event_seq names the event whose
// derivation produced the alert. meta holds retention's trim marks (below).
//
// Every index is a B-tree each commit writes a page of, so alerts have none
// besides their position: an alert id is derived from its event's sequence
// (unique by construction), and created_at is found by a binary search over
// positions (AlertPositionBefore). Databases created by an earlier dipwired
// (same version 1) also have UNIQUE on alerts.alert_id, which only a rebuild
// of the table would remove and which they keep, and an index
// alerts_by_created_at, which nothing reads and opening drops
// (kDropUnusedIndexes).
constexpr absl::string_view kCreateSchema = R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value ANY
) STRICT;
CREATE TABLE events(
  seq INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  content_hash BLOB NOT NULL,
  committed_at_ns INTEGER NOT NULL,
  alert_ids BLOB NOT NULL,
  payload BLOB NOT NULL
) STRICT;
CREATE TABLE alerts(
  pos INTEGER PRIMARY KEY,
  alert_id TEXT NOT NULL,
  event_seq INTEGER NOT NULL,
  created_at_ns INTEGER NOT NULL,
  payload BLOB NOT NULL
) STRICT;
)sql";

// Indexes of earlier dipwireds that nothing reads and every commit would
// write (kCreateSchema). Dropping one from an existing database frees its
// pages in one transaction, once.
constexpr absl::string_view kDropUnusedIndexes =
    "DROP INDEX IF EXISTS alerts_by_created_at";

// Durable subscriptions (issue #3). Not part of kCreateSchema: databases
// created before it (schema version 1 all the same) get the table when they
// are opened, so the schema version did not change.
constexpr absl::string_view kCreateSubscriptions = R"sql(
CREATE TABLE IF NOT EXISTS subscriptions(
  name TEXT PRIMARY KEY,
  position INTEGER NOT NULL,
  updated_at_ns INTEGER NOT NULL
) STRICT
)sql";

// Dead letters of webhook sinks: like `subscriptions`, created on open when
// missing, so the schema version did not change. The alert is kept whole
// (payload, the deterministic serialization) so that redelivery does not
// depend on the alert log.
constexpr absl::string_view kCreateDeadLetters = R"sql(
CREATE TABLE IF NOT EXISTS dead_letters(
  sink TEXT NOT NULL,
  position INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  failed_at_ns INTEGER NOT NULL,
  requeued INTEGER NOT NULL,
  payload BLOB NOT NULL,
  PRIMARY KEY (sink, position)
) STRICT
)sql";

// Snapshots of the alert engine's state, for retention (like
// `subscriptions`, created on open when missing, so the schema version did
// not change). seq is the sequence of the last event applied; alert_pos the
// alert log's head then.
constexpr absl::string_view kCreateSnapshots = R"sql(
CREATE TABLE IF NOT EXISTS engine_snapshots(
  seq INTEGER PRIMARY KEY,
  alert_pos INTEGER NOT NULL,
  created_at_ns INTEGER NOT NULL,
  state BLOB NOT NULL
) STRICT
)sql";

// `meta` may also hold "last_committed_at_ns", which dipwired wrote with
// every commit before commit d9abcda and no longer reads (kHeadSql reads the
// last event's committed_at instead; the row cost every commit a WAL
// frame). A dipwired from before d9abcda opened on such a database would
// take the stale row for the last commit time.

// Retention's trim marks in `meta` (absent: 0, nothing trimmed): events up
// to this sequence have an empty payload; alerts up to this position are
// deleted.
constexpr absl::string_view kEventsTrimmedKey = "events_trimmed_through";
constexpr absl::string_view kAlertsTrimmedKey = "alerts_trimmed_through";

// Maps a failed SQLite call to a Status. Busy and locked are retryable;
// anything else is INTERNAL with SQLite's message, for the server log.
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what) {
  std::string message =
      absl::StrCat(what, ": ", db != nullptr ? sqlite3_errmsg(db) : "",
                   " (sqlite ", sqlite3_errstr(rc), ", code ", rc, ")");
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

std::string ErrnoMessage(int err) {
  return std::error_code(err, std::generic_category()).message();
}

// Owns one prepared statement (model: Arrow's sql/example/sqlite_statement.h).
// Used by one thread at a time, like the connection it belongs to.
class Statement {
 public:
  static absl::StatusOr<std::unique_ptr<Statement>> Prepare(
      sqlite3* db, absl::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    const int rc =
        sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                           SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return SqliteError(db, rc, absl::StrCat("preparing ", sql));
    }
    return std::unique_ptr<Statement>(new Statement(db, stmt));
  }

  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binds parameter `index` (1-based); SQLite copies the value. A failure
  // is returned by the next Step or Run, so that a row binds in one
  // expression: stmt->BindInt64(1, a).BindText(2, b);
  Statement& BindInt64(int index, int64_t value) {
    return Check(sqlite3_bind_int64(stmt_, index, value));
  }
  Statement& BindText(int index, absl::string_view value) {
    // A null pointer would bind NULL; "" binds the empty string.
    return Check(
        sqlite3_bind_text64(stmt_, index, value.empty() ? "" : value.data(),
                            value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  Statement& BindBlob(int index, absl::string_view value) {
    if (value.empty()) {
      // sqlite3_bind_blob with a null pointer would bind NULL.
      return Check(sqlite3_bind_zeroblob(stmt_, index, 0));
    }
    return Check(sqlite3_bind_blob64(stmt_, index, value.data(), value.size(),
                                     SQLITE_TRANSIENT));
  }

  // Steps once: true when a row is ready, false when the statement is done.
  absl::StatusOr<bool> Step() {
    if (!bind_status_.ok()) return bind_status_;
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqliteError(db_, rc, absl::StrCat("running ", sqlite3_sql(stmt_)));
  }

  // Steps to the end, ignoring rows (PRAGMA assignments return one).
  absl::Status Run() {
    for (;;) {
      DIPWIRE_ASSIGN_OR_RETURN(const bool row, Step());
      if (!row) return absl::OkStatus();
    }
  }

  // Column accessors are 0-based and valid while a row is ready.
  [[nodiscard]] bool ColumnIsNull(int col) const {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
  }
  [[nodiscard]] int64_t ColumnInt64(int col) const {
    return sqlite3_column_int64(stmt_, col);
  }
  // Valid until the next Step or Reset.
  [[nodiscard]] absl::string_view ColumnBlob(int col) const {
    const void* data = sqlite3_column_blob(stmt_, col);
    const int size = sqlite3_column_bytes(stmt_, col);
    return {static_cast<const char*>(data), static_cast<size_t>(size)};
  }
  [[nodiscard]] absl::string_view ColumnText(int col) const {
    const unsigned char* data = sqlite3_column_text(stmt_, col);
    const int size = sqlite3_column_bytes(stmt_, col);
    return {reinterpret_cast<const char*>(data), static_cast<size_t>(size)};
  }

  // Ends the current execution (releasing its read snapshot) and clears the
  // bindings. The error of a failed step was already reported by Step.
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    bind_status_ = absl::OkStatus();
  }

 private:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}

  Statement& Check(int rc) {
    if (rc != SQLITE_OK && bind_status_.ok()) {
      bind_status_ =
          SqliteError(db_, rc, absl::StrCat("binding ", sqlite3_sql(stmt_)));
    }
    return *this;
  }

  sqlite3* const db_;
  sqlite3_stmt* const stmt_;
  // The first bind failure since the last Reset.
  absl::Status bind_status_;
};

// A borrowed cached statement that is reset when it goes out of scope, so
// that no statement keeps a read snapshot (and the WAL) pinned.
class ScopedStatement {
 public:
  explicit ScopedStatement(Statement* stmt) : stmt_(stmt) {}
  ScopedStatement(ScopedStatement&& other) noexcept
      : stmt_(std::exchange(other.stmt_, nullptr)) {}
  ScopedStatement& operator=(ScopedStatement&&) = delete;
  ScopedStatement(const ScopedStatement&) = delete;
  ScopedStatement& operator=(const ScopedStatement&) = delete;
  ~ScopedStatement() {
    if (stmt_ != nullptr) stmt_->Reset();
  }
  Statement* operator->() const { return stmt_; }
  Statement& operator*() const { return *stmt_; }

 private:
  Statement* stmt_;
};

// One SQLite connection and its prepared statements. Not thread-safe: the
// store gives each connection to one thread at a time (the writer under
// write_mu_, a reader through a lease).
class Connection {
 public:
  // Opens `path` with `flags` (SQLITE_OPEN_*). SQLITE_CANTOPEN is
  // INVALID_ARGUMENT: the data directory cannot be used.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const std::string& path, int flags) {
    sqlite3* db = nullptr;
    // NOMUTEX: SQLite's own per-connection mutex is redundant with our
    // one-thread-at-a-time use. EXRESCODE: extended result codes. The VFS
    // writes a commit's WAL frames with one system call per 64 KiB instead
    // of two per frame; it needs synchronous=FULL on the connection that
    // writes, which CheckOrCreateSchema sets (sqlite_wal_vfs.h).
    const int rc = sqlite3_open_v2(
        path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
        BufferedWalVfsName());
    auto connection = std::unique_ptr<Connection>(new Connection(db));
    if (rc != SQLITE_OK) {
      if ((rc & 0xff) == SQLITE_CANTOPEN) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot open ", path, ": ", sqlite3_errstr(rc)));
      }
      return SqliteError(db, rc, absl::StrCat("opening ", path));
    }
    const int busy_rc = sqlite3_busy_timeout(db, kBusyTimeoutMs);
    if (busy_rc != SQLITE_OK) {
      return SqliteError(db, busy_rc, "setting busy_timeout");
    }
    return connection;
  }

  ~Connection() {
    // Statements first: a connection with live statements does not close.
    statements_.clear();
    sqlite3_close_v2(db_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  [[nodiscard]] sqlite3* db() const { return db_; }

  // The cached prepared statement for `sql`, prepared on first use.
  absl::StatusOr<ScopedStatement> Get(absl::string_view sql) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
      DIPWIRE_ASSIGN_OR_RETURN(std::unique_ptr<Statement> stmt,
                               Statement::Prepare(db_, sql));
      it = statements_.emplace(sql, std::move(stmt)).first;
    }
    return ScopedStatement(it->second.get());
  }

  // Runs `sql` (one statement, no parameters) to completion.
  absl::Status Run(absl::string_view sql) {
    DIPWIRE_ASSIGN_OR_RETURN(ScopedStatement stmt, Get(sql));
    return stmt->Run();
  }

  // Runs `sql`, which must return one row, and returns its first column.
  absl::StatusOr<int64_t> QueryInt64(absl::string_view sql) {
    DIPWIRE_ASSIGN_OR_RETURN(ScopedStatement stmt, Get(sql));
    DIPWIRE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
    if (!row) return absl::InternalError(absl::StrCat(sql, " returned no row"));
    return stmt->ColumnInt64(0);
  }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}

  sqlite3* const db_;
  absl::flat_hash_map<std::string, std::unique_ptr<Statement>> statements_;
};

// An open file descriptor, closed on destruction.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) close(fd_);
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;

 private:
  const int fd_;
};

// Syncs directory `dir`, so that an entry just created in it survives a
// power loss. A directory that cannot be opened for reading (mode 0300) or
// synced (some network and FUSE file systems) gets a warning, as SQLite
// ignores such failures for the directories of its own files.
void SyncDir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const ScopedFd closed(fd);
  if (fd < 0 || fsync(fd) != 0) {
    const int error = errno;
    DIPWIRE_LOG(kWarning) << "cannot sync directory " << dir << " ("
                          << ErrnoMessage(error)
                          << "): the data directory created in it may not "
                             "survive a power loss";
  }
}

// The directory that holds the entry of `path`.
std::string ParentDir(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Creates `dir` and its missing parents with mode 0700, each made durable
// in its parent: SQLite syncs the entries of the files it creates in `dir`,
// not the entry of `dir` itself.
absl::Status MakeDirs(const std::string& dir) {
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i < dir.size() && dir[i] != '/') continue;
    const std::string prefix = dir.substr(0, i);
    if (mkdir(prefix.c_str(), 0700) != 0) {
      if (errno == EEXIST) continue;
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot create data directory ", prefix, ": ", ErrnoMessage(errno)));
    }
    SyncDir(ParentDir(prefix));
  }
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot use data directory ", dir, ": ", ErrnoMessage(errno)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("data directory ", dir, " is not a directory"));
  }
  return absl::OkStatus();
}

// Takes the exclusive lock on dir/LOCK for the life of the returned fd
// (released by the kernel if the process dies).
absl::StatusOr<std::unique_ptr<ScopedFd>> LockDataDir(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/LOCK");
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot open ", path, ": ", ErrnoMessage(errno)));
  }
  auto lock = std::make_unique<ScopedFd>(fd);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "data directory ", dir, " is in use by another dipwire store"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("cannot lock ", path, ": ", ErrnoMessage(errno)));
  }
  return lock;
}

std::string EncodeIds(const std::vector<std::string>& ids) {
  std::string out;
  for (const std::string& id : ids) {
    absl::StrAppend(&out, id.size(), ":", id, ",");
  }
  return out;
}

bool DecodeIds(absl::string_view in, std::vector<std::string>* ids) {
  while (!in.empty()) {
    const size_t colon = in.find(':');
    uint64_t size = 0;
    if (colon == absl::string_view::npos ||
        !absl::SimpleAtoi(in.substr(0, colon), &size)) {
      return false;
    }
    in.remove_prefix(colon + 1);
    if (size >= in.size() || in[size] != ',') return false;
    ids->emplace_back(in.substr(0, size));
    in.remove_prefix(size + 1);
  }
  return true;
}

absl::StatusOr<int64_t> ToStoredNanos(absl::Time t, absl::string_view what) {
  if (t < kMinStorableTime || t > kMaxStorableTime) {
    return absl::InternalError(
        absl::StrCat(what, " ", absl::FormatTime(t), " cannot be stored"));
  }
  return absl::ToUnixNanos(t);
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// Positions and sequences are INTEGER PRIMARY KEYs, i.e. int64; a position
// past that range is past the end of the log.
constexpr uint64_t kMaxKey = std::numeric_limits<int64_t>::max();

int64_t ClampToKey(uint64_t n) {
  return static_cast<int64_t>(n > kMaxKey ? kMaxKey : n);
}

// One query, hence one snapshot, for all of the head. The meta keys are
// kEventsTrimmedKey and kAlertsTrimmedKey. Retention may have deleted every
// alert: the alert head is then the trim mark. Retention keeps every event's
// row (only its payload goes), so the last event's committed_at is there.
// The last column, the newest alert's created_at (NULL when there is none),
// is for CheckContinuesLog.
constexpr absl::string_view kHeadSql =
    "SELECT (SELECT IFNULL(MAX(seq), 0) FROM events),"
    " MAX((SELECT IFNULL(MAX(pos), 0) FROM alerts),"
    " IFNULL((SELECT value FROM meta"
    " WHERE key = 'alerts_trimmed_through'), 0)),"
    " (SELECT committed_at_ns FROM events ORDER BY seq DESC LIMIT 1),"
    " IFNULL((SELECT value FROM meta"
    " WHERE key = 'events_trimmed_through'), 0),"
    " IFNULL((SELECT value FROM meta"
    " WHERE key = 'alerts_trimmed_through'), 0),"
    " (SELECT created_at_ns FROM alerts ORDER BY pos DESC LIMIT 1)";

// Reads the integer meta value `key` (0 when absent) on `connection`.
absl::StatusOr<int64_t> MetaInt64(Connection& connection,
                                  absl::string_view key) {
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement stmt,
      connection.Get("SELECT IFNULL((SELECT value FROM meta WHERE key = ?1),"
                     " 0)"));
  stmt->BindText(1, key);
  DIPWIRE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
  if (!row) return absl::InternalError("meta query returned no row");
  return stmt->ColumnInt64(0);
}

absl::Status PutMetaInt64(Connection& writer, absl::string_view key,
                          int64_t value) {
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement stmt,
      writer.Get("INSERT INTO meta(key, value) VALUES(?1, ?2)"
                 " ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
  stmt->BindText(1, key).BindInt64(2, value);
  return stmt->Run();
}

// An event or alert as bound to its INSERT. The views point into the
// StoredEvent/StoredAlert it was made from, or into the row's own
// serialization when that had none. Rows are built in place in a vector
// reserved up front and never moved, so that `payload` may point into
// `serialized`.
struct EventRow {
  int64_t sequence = 0;
  absl::string_view event_id;
  absl::string_view content_hash;
  int64_t committed_at_ns = 0;
  std::string alert_ids;
  absl::string_view payload;
  std::string serialized;
};
struct AlertRow {
  int64_t position = 0;
  absl::string_view alert_id;
  absl::string_view event_id;
  int64_t created_at_ns = 0;
  absl::string_view payload;
  std::string serialized;
};

absl::StatusOr<std::vector<EventRow>> ToEventRows(
    absl::Span<const StoredEvent> events) {
  std::vector<EventRow> rows;
  rows.reserve(events.size());
  for (const StoredEvent& event : events) {
    EventRow& row = rows.emplace_back();
    row.sequence = ClampToKey(event.sequence);
    row.event_id = event.event.event_id();
    row.content_hash = event.content_hash;
    DIPWIRE_ASSIGN_OR_RETURN(
        row.committed_at_ns,
        ToStoredNanos(event.committed_at,
                      absl::StrCat("event ", row.event_id, ": committed_at")));
    row.alert_ids = EncodeIds(event.alert_ids);
    if (event.payload.empty()) {
      row.serialized = SerializeDeterministically(event.event);
      row.payload = row.serialized;
    } else {
      row.payload = event.payload;
    }
  }
  return rows;
}

absl::StatusOr<std::vector<AlertRow>> ToAlertRows(
    absl::Span<const StoredAlert> alerts) {
  std::vector<AlertRow> rows;
  rows.reserve(alerts.size());
  for (const StoredAlert& alert : alerts) {
    AlertRow& row = rows.emplace_back();
    row.position = ClampToKey(alert.position);
    row.alert_id = alert.alert.alert_id();
    if (row.alert_id.empty()) {
      return absl::InternalError(absl::StrCat(
          "alert at position ", alert.position, " has no alert_id"));
    }
    row.event_id = alert.alert.event().event_id();
    DIPWIRE_ASSIGN_OR_RETURN(
        row.created_at_ns,
        ToStoredNanos(FromTimestamp(alert.alert.created_at()),
                      absl::StrCat("alert ", row.alert_id, ": created_at")));
    if (alert.payload.empty()) {
      row.serialized = SerializeDeterministically(alert.alert);
      row.payload = row.serialized;
    } else {
      row.payload = alert.payload;
    }
  }
  return rows;
}

// Checks the next row of a log: its key (`key_name`) must be `*next` and
// its time (`time_name`) at or after `*last_ns`; then advances both. `kind`
// ("event", "alert") and `id` name the row in errors.
absl::Status CheckNextRow(absl::string_view kind, absl::string_view id,
                          absl::string_view key_name, int64_t key,
                          absl::string_view time_name, int64_t ns,
                          int64_t* next, int64_t* last_ns) {
  if (key != *next) {
    return absl::InternalError(absl::StrCat(kind, " ", id, " has ", key_name,
                                            " ", key, " but the ", kind,
                                            " log continues at ", *next));
  }
  if (ns < *last_ns) {
    return absl::InternalError(absl::StrCat(
        kind, " ", id, " has ", time_name, " ", ns, " ns, before the ",
        *last_ns, " ns of the ", kind, " before it"));
  }
  ++*next;
  *last_ns = ns;
  return absl::OkStatus();
}

// Fails unless the rows continue the log exactly, with committed_at and
// created_at never going back (EventSequenceBefore and AlertPositionBefore
// rely on it). Runs inside the transaction.
absl::Status CheckContinuesLog(Connection& writer,
                               const std::vector<EventRow>& events,
                               const std::vector<AlertRow>& alerts) {
  DIPWIRE_ASSIGN_OR_RETURN(ScopedStatement stmt, writer.Get(kHeadSql));
  DIPWIRE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
  if (!row) return absl::InternalError("head query returned no row");
  // The time of the log's last row, before any time when it has none.
  const auto last_time = [&stmt](int column) {
    return stmt->ColumnIsNull(column) ? std::numeric_limits<int64_t>::min()
                                      : stmt->ColumnInt64(column);
  };
  int64_t next = stmt->ColumnInt64(0) + 1;
  int64_t last_ns = last_time(2);
  for (const EventRow& event : events) {
    DIPWIRE_RETURN_IF_ERROR(
        CheckNextRow("event", event.event_id, "sequence", event.sequence,
                     "committed_at", event.committed_at_ns, &next, &last_ns));
  }
  next = stmt->ColumnInt64(1) + 1;
  last_ns = last_time(5);
  for (const AlertRow& alert : alerts) {
    DIPWIRE_RETURN_IF_ERROR(CheckNextRow("alert", alert.alert_id, "position",
                                         alert.position, "created_at",
                                         alert.created_at_ns, &next, &last_ns));
  }
  return absl::OkStatus();
}

absl::Status InsertEvents(Connection& writer,
                          const std::vector<EventRow>& events) {
  if (events.empty()) return absl::OkStatus();
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement insert,
      writer.Get("INSERT INTO events(seq, event_id, content_hash,"
                 " committed_at_ns, alert_ids, payload)"
                 " VALUES(?1, ?2, ?3, ?4, ?5, ?6)"));
  for (const EventRow& event : events) {
    insert->Reset();
    insert->BindInt64(1, event.sequence)
        .BindText(2, event.event_id)
        .BindBlob(3, event.content_hash)
        .BindInt64(4, event.committed_at_ns)
        .BindBlob(5, event.alert_ids)
        .BindBlob(6, event.payload);
    DIPWIRE_RETURN_IF_ERROR(insert->Run());
  }
  return absl::OkStatus();
}

// The sequence of the event `event_id`: one of `events`, or one already in
// the log (the writer sees its own transaction). `*next` is where the search
// of `events` starts, and is left at the event found: alerts mostly belong
// to the events appended with them, in the same order, so that a group's
// alerts find their events in one pass over its events.
absl::StatusOr<int64_t> EventSequence(Connection& writer,
                                      const std::vector<EventRow>& events,
                                      absl::string_view event_id,
                                      size_t* next) {
  for (size_t i = *next; i < events.size(); ++i) {
    if (events[i].event_id == event_id) {
      *next = i;
      return events[i].sequence;
    }
  }
  for (size_t i = 0; i < *next && i < events.size(); ++i) {
    if (events[i].event_id == event_id) return events[i].sequence;
  }
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement find,
      writer.Get("SELECT seq FROM events WHERE event_id = ?1"));
  find->BindText(1, event_id);
  DIPWIRE_ASSIGN_OR_RETURN(const bool row, find->Step());
  if (!row) {
    return absl::InternalError(
        absl::StrCat("event '", event_id, "' is not in the log"));
  }
  return find->ColumnInt64(0);
}

absl::Status InsertAlerts(Connection& writer,
                          const std::vector<EventRow>& events,
                          const std::vector<AlertRow>& alerts) {
  if (alerts.empty()) return absl::OkStatus();
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement insert,
      writer.Get("INSERT INTO alerts(pos, alert_id, event_seq,"
                 " created_at_ns, payload) VALUES(?1, ?2, ?3, ?4, ?5)"));
  size_t next_event = 0;
  for (const AlertRow& alert : alerts) {
    absl::StatusOr<int64_t> event_seq =
        EventSequence(writer, events, alert.event_id, &next_event);
    if (!event_seq.ok()) {
      return {event_seq.status().code(),
              absl::StrCat("alert ", alert.alert_id, ": ",
                           event_seq.status().message())};
    }
    insert->Reset();
    insert->BindInt64(1, alert.position)
        .BindText(2, alert.alert_id)
        .BindInt64(3, *event_seq)
        .BindInt64(4, alert.created_at_ns)
        .BindBlob(5, alert.payload);
    DIPWIRE_RETURN_IF_ERROR(insert->Run());
  }
  return absl::OkStatus();
}

// The stored-nanoseconds bound b such that a time column <= b  <=>  the time
// is strictly before `t`; nullopt when no storable time is before `t`.
std::optional<int64_t> NanosBefore(absl::Time t) {
  if (t <= kMinStorableTime) return std::nullopt;
  if (t > kMaxStorableTime) return std::numeric_limits<int64_t>::max();
  // created_at < t  <=>  created_at_ns <= ceil(t in ns) - 1.
  const int64_t floor = absl::ToUnixNanos(t);
  const int64_t ceil = absl::FromUnixNanos(floor) < t ? floor + 1 : floor;
  return ceil - 1;
}

// The largest key in [first, last] whose time is <= bound, or first - 1
// when there is none. `lookup` selects the time of the row whose key is ?1;
// every key in [first, last] has a row, and the times are non-decreasing in
// the key, so a binary search is O(log n) point reads with no index on the
// time. `what` names a key in errors.
absl::StatusOr<int64_t> LastKeyAtOrBefore(Statement& lookup, int64_t first,
                                          int64_t last, int64_t bound,
                                          absl::string_view what) {
  // Invariant: the answer lies in [low, high].
  int64_t low = first - 1;
  int64_t high = last;
  while (low < high) {
    const int64_t mid = low + (high - low + 1) / 2;
    lookup.Reset();
    lookup.BindInt64(1, mid);
    DIPWIRE_ASSIGN_OR_RETURN(const bool row, lookup.Step());
    if (!row) {
      return absl::InternalError(absl::StrCat(what, " ", mid, " is missing"));
    }
    if (lookup.ColumnInt64(0) <= bound) {
      low = mid;
    } else {
      high = mid - 1;
    }
  }
  return low;
}

}  // namespace

// Owns the connections. Invariants, besides those of the database (see the
// header):
//  - the writer connection is used only under write_mu_, and is never inside
//    a transaction when write_mu_ is free;
//  - each read connection is either in idle_readers_ or leased to exactly
//    one thread, which returns it; it is only ever used for reads
//    (query_only), so it sees committed transactions only.
class SqliteEventStore::Impl {
 public:
  static absl::StatusOr<std::unique_ptr<Impl>> Open(
      const SqliteEventStoreOptions& options);

  ~Impl() {
    // Readers first, so that the writer closes last: the last connection to
    // close checkpoints the WAL into the database and removes it.
    readers_.clear();
    writer_.reset();
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  absl::StatusOr<LogHead> Head() ABSL_LOCKS_EXCLUDED(pool_mu_);
  absl::Status LookupEvents(
      absl::Span<const std::string> event_ids,
      absl::flat_hash_map<std::string, EventRecord>* found)
      ABSL_LOCKS_EXCLUDED(write_mu_);
  absl::Status Append(absl::Span<const StoredEvent> events,
                      absl::Span<const StoredAlert> alerts)
      ABSL_LOCKS_EXCLUDED(write_mu_);
  absl::Status ReadEvents(uint64_t after, size_t max_count,
                          std::vector<StoredEvent>* out)
      ABSL_LOCKS_EXCLUDED(pool_mu_);
  absl::Status ReadAlerts(uint64_t after, size_t max_count, size_t max_bytes,
                          std::vector<StoredAlert>* out)
      ABSL_LOCKS_EXCLUDED(pool_mu_);
  absl::StatusOr<uint64_t> AlertPositionBefore(absl::Time t)
      ABSL_LOCKS_EXCLUDED(pool_mu_);
  absl::StatusOr<uint64_t> EventSequenceBefore(absl::Time t)
      ABSL_LOCKS_EXCLUDED(pool_mu_);
  absl::Status PutSnapshot(const EngineSnapshot& snapshot)
      ABSL_LOCKS_EXCLUDED(write_mu_);
  absl::StatusOr<std::optional<EngineSnapshot>> NewestSnapshot()
      ABSL_LOCKS_EXCLUDED(pool_mu_);
  absl::StatusOr<uint64_t> TrimEvents(uint64_t through, size_t max_rows)
      ABSL_LOCKS_EXCLUDED(write_mu_);
  absl::StatusOr<uint64_t> TrimAlerts(uint64_t through, size_t max_rows)
      ABSL_LOCKS_EXCLUDED(write_mu_);
  absl::StatusOr<std::optional<uint64_t>> GetSubscription(
      absl::string_view name) ABSL_LOCKS_EXCLUDED(pool_mu_);
  absl::Status PutSubscription(absl::string_view name, uint64_t position,
                               absl::Time now) ABSL_LOCKS_EXCLUDED(write_mu_);
  absl::Status AdvanceSubscription(absl::string_view name, uint64_t position,
                                   absl::Time now)
      ABSL_LOCKS_EXCLUDED(write_mu_);
  absl::Status DeleteSubscription(absl::string_view name)
      ABSL_LOCKS_EXCLUDED(write_mu_);
  absl::StatusOr<std::vector<SubscriptionRecord>> ListSubscriptions()
      ABSL_LOCKS_EXCLUDED(pool_mu_);
  absl::Status PutDeadLetter(const DeadLetterRecord& record)
      ABSL_LOCKS_EXCLUDED(write_mu_);
  absl::Status ListDeadLetters(absl::string_view sink, bool requeued_only,
                               size_t max_count,
                               std::vector<DeadLetterRecord>* out,
                               int64_t* total) ABSL_LOCKS_EXCLUDED(pool_mu_);
  absl::StatusOr<int64_t> RequeueDeadLetters(absl::string_view sink)
      ABSL_LOCKS_EXCLUDED(write_mu_);
  absl::Status DeleteDeadLetter(absl::string_view sink, uint64_t position)
      ABSL_LOCKS_EXCLUDED(write_mu_);

 private:
  // A read connection leased from the pool for the lease's lifetime.
  class ReaderLease {
   public:
    explicit ReaderLease(Impl* impl)
        : impl_(impl), connection_(impl->AcquireReader()) {}
    ~ReaderLease() { impl_->ReleaseReader(connection_); }
    ReaderLease(const ReaderLease&) = delete;
    ReaderLease& operator=(const ReaderLease&) = delete;
    Connection* operator->() const { return connection_; }
    Connection& operator*() const { return *connection_; }

   private:
    Impl* const impl_;
    Connection* const connection_;
  };

  Impl(std::unique_ptr<ScopedFd> lock, std::unique_ptr<Connection> writer,
       std::vector<std::unique_ptr<Connection>> readers)
      : lock_(std::move(lock)),
        readers_(std::move(readers)),
        writer_(std::move(writer)) {
    for (const auto& reader : readers_) idle_readers_.push_back(reader.get());
  }

  static absl::Status CheckOrCreateSchema(Connection& writer,
                                          const std::string& path);
  // The tables added after schema version 1 was released, created when
  // missing (CREATE TABLE IF NOT EXISTS); drops kDropUnusedIndexes.
  static absl::Status CreateOptionalTables(Connection& writer,
                                           const std::string& path);

  // Blocks until a read connection is idle.
  Connection* AcquireReader() ABSL_LOCKS_EXCLUDED(pool_mu_);
  void ReleaseReader(Connection* reader) ABSL_LOCKS_EXCLUDED(pool_mu_);
  [[nodiscard]] bool HasIdleReader() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool_mu_);

  // The lookups of LookupEvents, inside its read transaction.
  absl::Status LookupInTransaction(
      absl::Span<const std::string> event_ids,
      absl::flat_hash_map<std::string, EventRecord>* records)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // The body of Append's transaction; Append rolls back when it fails.
  absl::Status AppendInTransaction(absl::Span<const StoredEvent> events,
                                   absl::Span<const StoredAlert> alerts)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // The bodies of TrimEvents' and TrimAlerts' transactions: they set
  // `*mark` to the new trim mark.
  absl::Status TrimEventsInTransaction(uint64_t through, size_t max_rows,
                                       int64_t* mark)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::Status TrimAlertsInTransaction(uint64_t through, size_t max_rows,
                                       int64_t* mark)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Rolls back the writer's open transaction, if any, after `status` (a
  // failed transaction body, whose statements are reset by now), and
  // returns `status`, amended when ROLLBACK failed too. A failed COMMIT may
  // already have rolled back (then autocommit is on).
  absl::Status RollBackIfFailed(absl::Status status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  // Constant after construction. lock_ is declared first so that it is
  // released last, after every connection has closed.
  const std::unique_ptr<ScopedFd> lock_;
  // Owns the read connections; each is used only by the thread leasing it.
  std::vector<std::unique_ptr<Connection>> readers_;

  absl::Mutex write_mu_;
  std::unique_ptr<Connection> writer_ ABSL_GUARDED_BY(write_mu_);

  absl::Mutex pool_mu_;
  std::vector<Connection*> idle_readers_ ABSL_GUARDED_BY(pool_mu_);
};

absl::StatusOr<std::unique_ptr<SqliteEventStore::Impl>>
SqliteEventStore::Impl::Open(const SqliteEventStoreOptions& options) {
  if (options.data_dir.empty()) {
    return absl::InvalidArgumentError("data_dir is required");
  }
  if (options.read_connections < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "read_connections: ", options.read_connections, " is less than 1"));
  }
  DIPWIRE_RETURN_IF_ERROR(MakeDirs(options.data_dir));
  DIPWIRE_ASSIGN_OR_RETURN(std::unique_ptr<ScopedFd> lock,
                           LockDataDir(options.data_dir));
  const std::string path = absl::StrCat(options.data_dir, "/", kFileName);

  DIPWIRE_ASSIGN_OR_RETURN(
      std::unique_ptr<Connection> writer,
      Connection::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
  DIPWIRE_RETURN_IF_ERROR(CheckOrCreateSchema(*writer, path));

  std::vector<std::unique_ptr<Connection>> readers;
  for (int i = 0; i < options.read_connections; ++i) {
    DIPWIRE_ASSIGN_OR_RETURN(std::unique_ptr<Connection> reader,
                             Connection::Open(path, SQLITE_OPEN_READWRITE));
    // Read-write only so that WAL readers may maintain the -shm index;
    // query_only makes any write through it an error.
    DIPWIRE_RETURN_IF_ERROR(reader->Run("PRAGMA query_only = ON"));
    readers.push_back(std::move(reader));
  }
  return std::unique_ptr<Impl>(
      new Impl(std::move(lock), std::move(writer), std::move(readers)));
}

absl::Status SqliteEventStore::Impl::CheckOrCreateSchema(
    Connection& writer, const std::string& path) {
  // Look before writing anything: a foreign database must be left as it is,
  // journal mode included. The data directory lock keeps other dipwire
  // stores out between this check and the creation below.
  const auto prefixed = [&path](const absl::Status& status) {
    return absl::Status(status.code(),
                        absl::StrCat(path, ": ", status.message()));
  };
  // The first statement reads the file header: this is where a file that
  // is not an SQLite database shows.
  const int rc = sqlite3_exec(writer.db(), "SELECT COUNT(*) FROM sqlite_schema",
                              nullptr, nullptr, nullptr);
  if ((rc & 0xff) == SQLITE_NOTADB) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is not a dipwire database: ", sqlite3_errmsg(writer.db())));
  }
  if (rc != SQLITE_OK) {
    return prefixed(SqliteError(writer.db(), rc, "reading the schema"));
  }
  absl::StatusOr<int64_t> application_id =
      writer.QueryInt64("PRAGMA application_id");
  if (!application_id.ok()) return prefixed(application_id.status());
  absl::StatusOr<int64_t> version = writer.QueryInt64("PRAGMA user_version");
  if (!version.ok()) return prefixed(version.status());
  absl::StatusOr<int64_t> objects =
      writer.QueryInt64("SELECT COUNT(*) FROM sqlite_schema");
  if (!objects.ok()) return prefixed(objects.status());

  const bool fresh = *application_id == 0 && *objects == 0;
  if (!fresh) {
    if (*application_id != kApplicationId) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is not a dipwire database (application_id ",
                       *application_id, ")"));
    }
    if (*version > kSchemaVersion) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " has schema version ", *version,
                       ", newer than this dipwired understands (",
                       kSchemaVersion, "): run a newer dipwired"));
    }
    if (*version < kSchemaVersion) {
      // No older schema was ever released; there is nothing to migrate from.
      return absl::FailedPreconditionError(
          absl::StrCat(path, " has unknown schema version ", *version));
    }
  }

  // journal_mode is stored in the file; synchronous is per connection (only
  // the writer commits, so only the writer needs it, for durability and
  // for the VFS: sqlite_wal_vfs.h).
  {
    absl::StatusOr<ScopedStatement> stmt =
        writer.Get("PRAGMA journal_mode = WAL");
    if (!stmt.ok()) return prefixed(stmt.status());
    absl::StatusOr<bool> row = (*stmt)->Step();
    if (!row.ok()) return prefixed(row.status());
    if (!*row || (*stmt)->ColumnText(0) != "wal") {
      return absl::InternalError(
          absl::StrCat(path, ": cannot switch to WAL journal mode"));
    }
  }
  absl::Status status = writer.Run("PRAGMA synchronous = FULL");
  if (!status.ok()) return prefixed(status);
  if (!fresh) return CreateOptionalTables(writer, path);

  // sqlite3_exec runs the several statements of the schema; the pragmas
  // inside the transaction commit with it, so a database that has
  // application_id set has the whole schema.
  const std::string create =
      absl::StrCat("BEGIN IMMEDIATE;", kCreateSchema,
                   "PRAGMA application_id = ", kApplicationId, ";",
                   "PRAGMA user_version = ", kSchemaVersion, ";COMMIT;");
  const int create_rc =
      sqlite3_exec(writer.db(), create.c_str(), nullptr, nullptr, nullptr);
  if (create_rc != SQLITE_OK) {
    status = SqliteError(writer.db(), create_rc, "creating the schema");
    if (sqlite3_get_autocommit(writer.db()) == 0) {
      sqlite3_exec(writer.db(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
    return prefixed(status);
  }
  return CreateOptionalTables(writer, path);
}

absl::Status SqliteEventStore::Impl::CreateOptionalTables(
    Connection& writer, const std::string& path) {
  absl::Status status = writer.Run(kDropUnusedIndexes);
  if (status.ok()) status = writer.Run(kCreateSubscriptions);
  if (status.ok()) status = writer.Run(kCreateDeadLetters);
  if (status.ok()) status = writer.Run(kCreateSnapshots);
  if (status.ok()) return status;
  return {status.code(), absl::StrCat(path, ": ", status.message())};
}

Connection* SqliteEventStore::Impl::AcquireReader() {
  absl::MutexLock lock(&pool_mu_);
  pool_mu_.Await(absl::Condition(this, &Impl::HasIdleReader));
  Connection* reader = idle_readers_.back();
  idle_readers_.pop_back();
  return reader;
}

void SqliteEventStore::Impl::ReleaseReader(Connection* reader) {
  absl::MutexLock lock(&pool_mu_);
  idle_readers_.push_back(reader);
}

bool SqliteEventStore::Impl::HasIdleReader() const {
  pool_mu_.AssertHeld();
  return !idle_readers_.empty();
}

absl::StatusOr<LogHead> SqliteEventStore::Impl::Head() {
  ReaderLease reader(this);
  DIPWIRE_ASSIGN_OR_RETURN(ScopedStatement stmt, reader->Get(kHeadSql));
  DIPWIRE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
  if (!row) return absl::InternalError("head query returned no row");
  LogHead head;
  head.last_sequence = static_cast<uint64_t>(stmt->ColumnInt64(0));
  head.last_alert_position = static_cast<uint64_t>(stmt->ColumnInt64(1));
  if (!stmt->ColumnIsNull(2)) {
    head.last_committed_at = absl::FromUnixNanos(stmt->ColumnInt64(2));
  }
  head.events_trimmed_through = static_cast<uint64_t>(stmt->ColumnInt64(3));
  head.alerts_trimmed_through = static_cast<uint64_t>(stmt->ColumnInt64(4));
  return head;
}

absl::Status SqliteEventStore::Impl::LookupEvents(
    absl::Span<const std::string> event_ids,
    absl::flat_hash_map<std::string, EventRecord>* found) {
  if (event_ids.empty()) return absl::OkStatus();
  // On the write connection: the publish pipeline, the single writer, looks
  // up each group just before appending it, so this waits for nothing. The
  // writer's page cache is current, while a read connection would re-read
  // from the WAL the index pages the last commit changed. One read
  // transaction for all the ids: each SELECT in autocommit would take and
  // release the WAL's read lock (two fcntl calls) on its own.
  absl::MutexLock lock(&write_mu_);
  DIPWIRE_RETURN_IF_ERROR(writer_->Run("BEGIN"));
  // Filled in full or not at all.
  absl::flat_hash_map<std::string, EventRecord> records;
  absl::Status status = LookupInTransaction(event_ids, &records);
  // LookupInTransaction's statement is reset by now, so the read
  // transaction can end.
  const absl::Status ended = writer_->Run(status.ok() ? "COMMIT" : "ROLLBACK");
  if (status.ok()) status = ended;
  if (!status.ok()) return status;
  for (auto& [id, record] : records) (*found)[id] = std::move(record);
  return absl::OkStatus();
}

absl::Status SqliteEventStore::Impl::LookupInTransaction(
    absl::Span<const std::string> event_ids,
    absl::flat_hash_map<std::string, EventRecord>* records) {
  write_mu_.AssertHeld();
  // One indexed lookup per id, on one cached statement: a few microseconds
  // each, and simpler than IN (...) lists of varying length.
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement stmt,
      writer_->Get("SELECT seq, content_hash, alert_ids FROM events"
                   " WHERE event_id = ?1"));
  for (const std::string& id : event_ids) {
    stmt->Reset();
    stmt->BindText(1, id);
    DIPWIRE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
    if (!row) continue;
    EventRecord record;
    record.sequence = static_cast<uint64_t>(stmt->ColumnInt64(0));
    const absl::string_view hash = stmt->ColumnBlob(1);
    record.content_hash.assign(hash.data(), hash.size());
    if (!DecodeIds(stmt->ColumnBlob(2), &record.alert_ids)) {
      return absl::InternalError(absl::StrCat("event seq ", record.sequence,
                                              ": corrupt alert_ids column"));
    }
    (*records)[id] = std::move(record);
  }
  return absl::OkStatus();
}

absl::Status SqliteEventStore::Impl::Append(
    absl::Span<const StoredEvent> events,
    absl::Span<const StoredAlert> alerts) {
  if (events.empty() && alerts.empty()) return absl::OkStatus();
  absl::MutexLock lock(&write_mu_);
  return RollBackIfFailed(AppendInTransaction(events, alerts));
}

absl::Status SqliteEventStore::Impl::RollBackIfFailed(absl::Status status) {
  write_mu_.AssertHeld();
  if (!status.ok() && sqlite3_get_autocommit(writer_->db()) == 0) {
    const absl::Status rollback = writer_->Run("ROLLBACK");
    if (!rollback.ok()) {
      status = absl::Status(
          status.code(),
          absl::StrCat(status.message(),
                       "; then ROLLBACK failed: ", rollback.message()));
    }
  }
  return status;
}

absl::Status SqliteEventStore::Impl::AppendInTransaction(
    absl::Span<const StoredEvent> events,
    absl::Span<const StoredAlert> alerts) {
  write_mu_.AssertHeld();
  // Serialize and check the inputs before taking SQLite's write lock.
  DIPWIRE_ASSIGN_OR_RETURN(const std::vector<EventRow> event_rows,
                           ToEventRows(events));
  DIPWIRE_ASSIGN_OR_RETURN(const std::vector<AlertRow> alert_rows,
                           ToAlertRows(alerts));
  // IMMEDIATE: take the write lock now, so that the end of the log read by
  // CheckContinuesLog cannot move before COMMIT.
  DIPWIRE_RETURN_IF_ERROR(writer_->Run("BEGIN IMMEDIATE"));
  DIPWIRE_RETURN_IF_ERROR(CheckContinuesLog(*writer_, event_rows, alert_rows));
  DIPWIRE_RETURN_IF_ERROR(InsertEvents(*writer_, event_rows));
  DIPWIRE_RETURN_IF_ERROR(InsertAlerts(*writer_, event_rows, alert_rows));
  // With synchronous=FULL in WAL mode, COMMIT returns once the WAL is
  // fsynced.
  return writer_->Run("COMMIT");
}

absl::Status SqliteEventStore::Impl::ReadEvents(uint64_t after,
                                                size_t max_count,
                                                std::vector<StoredEvent>* out) {
  if (max_count == 0 || after >= kMaxKey) return absl::OkStatus();
  ReaderLease reader(this);
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement stmt,
      // One statement, so the trim mark and the rows are of one snapshot.
      reader->Get("SELECT seq, content_hash, committed_at_ns, alert_ids,"
                  " payload FROM events WHERE seq > MAX(?1, IFNULL((SELECT"
                  " value FROM meta WHERE key = 'events_trimmed_through'),"
                  " 0)) ORDER BY seq LIMIT ?2"));
  stmt->BindInt64(1, static_cast<int64_t>(after));
  stmt->BindInt64(2, ClampToKey(max_count));
  std::vector<StoredEvent> events;  // appended to *out only on success
  for (;;) {
    DIPWIRE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
    if (!row) break;
    StoredEvent event;
    event.sequence = static_cast<uint64_t>(stmt->ColumnInt64(0));
    const absl::string_view hash = stmt->ColumnBlob(1);
    event.content_hash.assign(hash.data(), hash.size());
    event.committed_at = absl::FromUnixNanos(stmt->ColumnInt64(2));
    const absl::string_view payload = stmt->ColumnBlob(4);
    if (payload.empty()) {
      // Trimmed without the mark moving: never hand it out as an event.
      return absl::InternalError(absl::StrCat(
          "event seq ", event.sequence, " has no payload past the trim mark"));
    }
    if (!DecodeIds(stmt->ColumnBlob(3), &event.alert_ids) ||
        !event.event.ParseFromArray(payload.data(),
                                    static_cast<int>(payload.size()))) {
      return absl::InternalError(
          absl::StrCat("event seq ", event.sequence, " is corrupt"));
    }
    events.push_back(std::move(event));
  }
  std::move(events.begin(), events.end(), std::back_inserter(*out));
  return absl::OkStatus();
}

absl::Status SqliteEventStore::Impl::ReadAlerts(uint64_t after,
                                                size_t max_count,
                                                size_t max_bytes,
                                                std::vector<StoredAlert>* out) {
  if (max_count == 0 || after >= kMaxKey) return absl::OkStatus();
  ReaderLease reader(this);
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement stmt,
      reader->Get("SELECT pos, payload FROM alerts WHERE pos > ?1"
                  " ORDER BY pos LIMIT ?2"));
  stmt->BindInt64(1, static_cast<int64_t>(after));
  stmt->BindInt64(2, ClampToKey(max_count));
  std::vector<StoredAlert> alerts;  // appended to *out only on success
  size_t bytes = 0;
  bool first = true;
  while (first || bytes < max_bytes) {
    DIPWIRE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
    if (!row) break;
    // The payload is the deterministic serialization, whose length is the
    // alert's ByteSizeLong(): decide before parsing.
    const absl::string_view payload = stmt->ColumnBlob(1);
    if (!first && payload.size() > max_bytes - bytes) break;
    StoredAlert alert;
    alert.position = static_cast<uint64_t>(stmt->ColumnInt64(0));
    if (first && alert.position != after + 1) {
      // Positions have no gaps but the prefix retention deleted: the
      // alerts after `after` up to here are gone.
      return AlertsTrimmedError("cursor", alert.position - 1);
    }
    if (!alert.alert.ParseFromArray(payload.data(),
                                    static_cast<int>(payload.size()))) {
      return absl::InternalError(
          absl::StrCat("alert at position ", alert.position, " is corrupt"));
    }
    alert.payload = std::string(payload);
    bytes += payload.size();
    first = false;
    alerts.push_back(std::move(alert));
  }
  if (alerts.empty()) {
    // Nothing after `after`: the end of the log, or all of it trimmed. A
    // mark read later than the rows can only be higher; if it passed
    // `after`, the alerts after it are gone by now either way.
    stmt->Reset();
    DIPWIRE_ASSIGN_OR_RETURN(const int64_t mark,
                             MetaInt64(*reader, kAlertsTrimmedKey));
    if (static_cast<uint64_t>(mark) > after) {
      return AlertsTrimmedError("cursor", static_cast<uint64_t>(mark));
    }
  }
  std::move(alerts.begin(), alerts.end(), std::back_inserter(*out));
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SqliteEventStore::Impl::AlertPositionBefore(
    absl::Time t) {
  const std::optional<int64_t> bound = NanosBefore(t);
  if (!bound.has_value()) return 0;
  ReaderLease reader(this);
  // Retention deletes a prefix of the log, so the positions kept are
  // [first, last], all present. `range` stays open until the end, and with
  // it the read snapshot the lookups see.
  // Two subqueries: SQLite finds a lone MIN or MAX at an end of the
  // B-tree, but computes MIN and MAX together by reading every row.
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement range,
      reader->Get("SELECT IFNULL((SELECT MIN(pos) FROM alerts), 0),"
                  " IFNULL((SELECT MAX(pos) FROM alerts), 0)"));
  DIPWIRE_ASSIGN_OR_RETURN(const bool row, range->Step());
  if (!row) return absl::InternalError("alert range query returned no row");
  const int64_t first = range->ColumnInt64(0);
  const int64_t last = range->ColumnInt64(1);
  if (last == 0) return 0;
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement lookup,
      reader->Get("SELECT created_at_ns FROM alerts WHERE pos = ?1"));
  DIPWIRE_ASSIGN_OR_RETURN(
      const int64_t found,
      LastKeyAtOrBefore(*lookup, first, last, *bound, "alert position"));
  return found < first ? 0 : static_cast<uint64_t>(found);
}

absl::StatusOr<uint64_t> SqliteEventStore::Impl::EventSequenceBefore(
    absl::Time t) {
  const std::optional<int64_t> bound = NanosBefore(t);
  if (!bound.has_value()) return 0;
  ReaderLease reader(this);
  DIPWIRE_ASSIGN_OR_RETURN(
      const int64_t last,
      reader->QueryInt64("SELECT IFNULL(MAX(seq), 0) FROM events"));
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement lookup,
      reader->Get("SELECT committed_at_ns FROM events WHERE seq = ?1"));
  // Retention keeps every event's row: the sequences are 1..last.
  DIPWIRE_ASSIGN_OR_RETURN(
      const int64_t found,
      LastKeyAtOrBefore(*lookup, 1, last, *bound, "event seq"));
  return static_cast<uint64_t>(found);
}

absl::Status SqliteEventStore::Impl::PutSnapshot(
    const EngineSnapshot& snapshot) {
  DIPWIRE_ASSIGN_OR_RETURN(const int64_t created_at_ns,
                           ToStoredNanos(snapshot.created_at, "created_at"));
  absl::MutexLock lock(&write_mu_);
  {
    DIPWIRE_ASSIGN_OR_RETURN(ScopedStatement head, writer_->Get(kHeadSql));
    DIPWIRE_ASSIGN_OR_RETURN(const bool row, head->Step());
    if (!row) return absl::InternalError("head query returned no row");
    if (ClampToKey(snapshot.sequence) > head->ColumnInt64(0) ||
        ClampToKey(snapshot.alert_position) > head->ColumnInt64(1)) {
      return absl::InternalError(absl::StrCat(
          "snapshot at sequence ", snapshot.sequence, " and alert position ",
          snapshot.alert_position, " is beyond the head of the log"));
    }
  }
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement stmt,
      writer_->Get("INSERT OR REPLACE INTO engine_snapshots(seq, alert_pos,"
                   " created_at_ns, state) VALUES(?1, ?2, ?3, ?4)"));
  stmt->BindInt64(1, ClampToKey(snapshot.sequence))
      .BindInt64(2, ClampToKey(snapshot.alert_position))
      .BindInt64(3, created_at_ns)
      .BindBlob(4, snapshot.state);
  return stmt->Run();
}

absl::StatusOr<std::optional<EngineSnapshot>>
SqliteEventStore::Impl::NewestSnapshot() {
  ReaderLease reader(this);
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement stmt,
      reader->Get("SELECT seq, alert_pos, created_at_ns, state"
                  " FROM engine_snapshots ORDER BY seq DESC LIMIT 1"));
  DIPWIRE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
  if (!row) return std::optional<EngineSnapshot>();
  EngineSnapshot snapshot;
  snapshot.sequence = static_cast<uint64_t>(stmt->ColumnInt64(0));
  snapshot.alert_position = static_cast<uint64_t>(stmt->ColumnInt64(1));
  snapshot.created_at = absl::FromUnixNanos(stmt->ColumnInt64(2));
  snapshot.state = std::string(stmt->ColumnBlob(3));
  return std::optional<EngineSnapshot>(std::move(snapshot));
}

absl::StatusOr<uint64_t> SqliteEventStore::Impl::TrimEvents(uint64_t through,
                                                            size_t max_rows) {
  absl::MutexLock lock(&write_mu_);
  int64_t mark = 0;
  DIPWIRE_RETURN_IF_ERROR(
      RollBackIfFailed(TrimEventsInTransaction(through, max_rows, &mark)));
  return static_cast<uint64_t>(mark);
}

absl::Status SqliteEventStore::Impl::TrimEventsInTransaction(uint64_t through,
                                                             size_t max_rows,
                                                             int64_t* mark) {
  write_mu_.AssertHeld();
  DIPWIRE_RETURN_IF_ERROR(writer_->Run("BEGIN IMMEDIATE"));
  DIPWIRE_ASSIGN_OR_RETURN(*mark, MetaInt64(*writer_, kEventsTrimmedKey));
  DIPWIRE_ASSIGN_OR_RETURN(
      const int64_t snapshot,
      writer_->QueryInt64("SELECT IFNULL(MAX(seq), 0) FROM engine_snapshots"));
  DIPWIRE_ASSIGN_OR_RETURN(
      const int64_t last,
      writer_->QueryInt64("SELECT IFNULL(MAX(seq), 0) FROM events"));
  const int64_t limit = std::min({ClampToKey(through), snapshot, last});
  const int64_t end =
      *mark + std::min<int64_t>(ClampToKey(max_rows), limit - *mark);
  if (end > *mark) {
    {
      DIPWIRE_ASSIGN_OR_RETURN(ScopedStatement stmt,
                               writer_->Get("UPDATE events SET payload = X''"
                                            " WHERE seq > ?1 AND seq <= ?2"));
      stmt->BindInt64(1, *mark).BindInt64(2, end);
      DIPWIRE_RETURN_IF_ERROR(stmt->Run());
    }
    DIPWIRE_RETURN_IF_ERROR(PutMetaInt64(*writer_, kEventsTrimmedKey, end));
    *mark = end;
  }
  // Replay starts from the newest snapshot; the older ones are of no use.
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement drop,
      writer_->Get("DELETE FROM engine_snapshots WHERE seq < ?1"));
  drop->BindInt64(1, snapshot);
  DIPWIRE_RETURN_IF_ERROR(drop->Run());
  return writer_->Run("COMMIT");
}

absl::StatusOr<uint64_t> SqliteEventStore::Impl::TrimAlerts(uint64_t through,
                                                            size_t max_rows) {
  absl::MutexLock lock(&write_mu_);
  int64_t mark = 0;
  DIPWIRE_RETURN_IF_ERROR(
      RollBackIfFailed(TrimAlertsInTransaction(through, max_rows, &mark)));
  return static_cast<uint64_t>(mark);
}

absl::Status SqliteEventStore::Impl::TrimAlertsInTransaction(uint64_t through,
                                                             size_t max_rows,
                                                             int64_t* mark) {
  write_mu_.AssertHeld();
  DIPWIRE_RETURN_IF_ERROR(writer_->Run("BEGIN IMMEDIATE"));
  DIPWIRE_ASSIGN_OR_RETURN(*mark, MetaInt64(*writer_, kAlertsTrimmedKey));
  DIPWIRE_ASSIGN_OR_RETURN(
      const int64_t last,
      writer_->QueryInt64("SELECT IFNULL(MAX(pos), 0) FROM alerts"));
  const int64_t limit = std::min(ClampToKey(through), last);
  const int64_t end =
      *mark + std::min<int64_t>(ClampToKey(max_rows), limit - *mark);
  if (end <= *mark) return writer_->Run("COMMIT");
  {
    DIPWIRE_ASSIGN_OR_RETURN(
        ScopedStatement stmt,
        writer_->Get("DELETE FROM alerts WHERE pos <= ?1"));
    stmt->BindInt64(1, end);
    DIPWIRE_RETURN_IF_ERROR(stmt->Run());
  }
  DIPWIRE_RETURN_IF_ERROR(PutMetaInt64(*writer_, kAlertsTrimmedKey, end));
  *mark = end;
  return writer_->Run("COMMIT");
}

absl::StatusOr<std::optional<uint64_t>> SqliteEventStore::Impl::GetSubscription(
    absl::string_view name) {
  ReaderLease reader(this);
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement stmt,
      reader->Get("SELECT position FROM subscriptions WHERE name = ?1"));
  stmt->BindText(1, name);
  DIPWIRE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
  if (!row) return std::optional<uint64_t>();
  return std::optional<uint64_t>(static_cast<uint64_t>(stmt->ColumnInt64(0)));
}

absl::Status SqliteEventStore::Impl::PutSubscription(absl::string_view name,
                                                     uint64_t position,
                                                     absl::Time now) {
  DIPWIRE_ASSIGN_OR_RETURN(const int64_t now_ns,
                           ToStoredNanos(now, "updated_at"));
  absl::MutexLock lock(&write_mu_);
  // One statement is one (durable) transaction in autocommit mode.
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement stmt,
      writer_->Get("INSERT INTO subscriptions(name, position, updated_at_ns)"
                   " VALUES (?1, ?2, ?3) ON CONFLICT(name) DO UPDATE SET"
                   " position = excluded.position,"
                   " updated_at_ns = excluded.updated_at_ns"));
  stmt->BindText(1, name)
      .BindInt64(2, ClampToKey(position))
      .BindInt64(3, now_ns);
  return stmt->Run();
}

absl::Status SqliteEventStore::Impl::AdvanceSubscription(absl::string_view name,
                                                         uint64_t position,
                                                         absl::Time now) {
  DIPWIRE_ASSIGN_OR_RETURN(const int64_t now_ns,
                           ToStoredNanos(now, "updated_at"));
  absl::MutexLock lock(&write_mu_);
  int changes = 0;
  {
    DIPWIRE_ASSIGN_OR_RETURN(
        ScopedStatement stmt,
        writer_->Get("UPDATE subscriptions SET position = ?2,"
                     " updated_at_ns = ?3 WHERE name = ?1 AND position < ?2"));
    stmt->BindText(1, name)
        .BindInt64(2, ClampToKey(position))
        .BindInt64(3, now_ns);
    DIPWIRE_RETURN_IF_ERROR(stmt->Run());
    changes = sqlite3_changes(writer_->db());
  }
  if (changes > 0) return absl::OkStatus();
  // Either at or past `position` already (a no-op) or unknown.
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement stmt,
      writer_->Get("SELECT 1 FROM subscriptions WHERE name = ?1"));
  stmt->BindText(1, name);
  DIPWIRE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
  if (!row) {
    return absl::NotFoundError(
        absl::StrCat("subscription: no subscription named \"", name, "\""));
  }
  return absl::OkStatus();
}

absl::Status SqliteEventStore::Impl::DeleteSubscription(
    absl::string_view name) {
  absl::MutexLock lock(&write_mu_);
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement stmt,
      writer_->Get("DELETE FROM subscriptions WHERE name = ?1"));
  stmt->BindText(1, name);
  DIPWIRE_RETURN_IF_ERROR(stmt->Run());
  if (sqlite3_changes(writer_->db()) == 0) {
    return absl::NotFoundError(
        absl::StrCat("name: no subscription named \"", name, "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SubscriptionRecord>>
SqliteEventStore::Impl::ListSubscriptions() {
  ReaderLease reader(this);
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement stmt,
      reader->Get("SELECT name, position, updated_at_ns FROM subscriptions"
                  " ORDER BY name"));
  std::vector<SubscriptionRecord> records;
  for (;;) {
    DIPWIRE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
    if (!row) break;
    SubscriptionRecord record;
    record.name = std::string(stmt->ColumnText(0));
    record.position = static_cast<uint64_t>(stmt->ColumnInt64(1));
    record.updated_at = absl::FromUnixNanos(stmt->ColumnInt64(2));
    records.push_back(std::move(record));
  }
  return records;
}

absl::Status SqliteEventStore::Impl::PutDeadLetter(
    const DeadLetterRecord& record) {
  DIPWIRE_ASSIGN_OR_RETURN(const int64_t failed_at_ns,
                           ToStoredNanos(record.failed_at, "failed_at"));
  const std::string payload = SerializeDeterministically(record.alert);
  absl::MutexLock lock(&write_mu_);
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement stmt,
      writer_->Get("INSERT OR REPLACE INTO dead_letters(sink, position,"
                   " attempts, last_error, failed_at_ns, requeued, payload)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  stmt->BindText(1, record.sink)
      .BindInt64(2, ClampToKey(record.position))
      .BindInt64(3, record.attempts)
      .BindText(4, record.last_error)
      .BindInt64(5, failed_at_ns)
      .BindInt64(6, record.requeued ? 1 : 0)
      .BindBlob(7, payload);
  return stmt->Run();
}

absl::Status SqliteEventStore::Impl::ListDeadLetters(
    absl::string_view sink, bool requeued_only, size_t max_count,
    std::vector<DeadLetterRecord>* out, int64_t* total) {
  ReaderLease reader(this);
  if (total != nullptr) {
    DIPWIRE_ASSIGN_OR_RETURN(
        ScopedStatement stmt,
        reader->Get("SELECT COUNT(*) FROM dead_letters WHERE sink = ?1"));
    stmt->BindText(1, sink);
    DIPWIRE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
    *total = row ? stmt->ColumnInt64(0) : 0;
  }
  if (max_count == 0) return absl::OkStatus();
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement stmt,
      reader->Get("SELECT position, attempts, last_error, failed_at_ns,"
                  " requeued, payload FROM dead_letters WHERE sink = ?1"
                  " AND (?2 = 0 OR requeued = 1) ORDER BY position LIMIT ?3"));
  stmt->BindText(1, sink)
      .BindInt64(2, requeued_only ? 1 : 0)
      .BindInt64(3, ClampToKey(max_count));
  std::vector<DeadLetterRecord> records;  // appended to *out only on success
  for (;;) {
    DIPWIRE_ASSIGN_OR_RETURN(const bool row, stmt->Step());
    if (!row) break;
    DeadLetterRecord record;
    record.sink = std::string(sink);
    record.position = static_cast<uint64_t>(stmt->ColumnInt64(0));
    record.attempts = static_cast<int>(stmt->ColumnInt64(1));
    record.last_error = std::string(stmt->ColumnText(2));
    record.failed_at = absl::FromUnixNanos(stmt->ColumnInt64(3));
    record.requeued = stmt->ColumnInt64(4) != 0;
    const absl::string_view payload = stmt->ColumnBlob(5);
    if (!record.alert.ParseFromArray(payload.data(),
                                     static_cast<int>(payload.size()))) {
      return absl::InternalError(absl::StrCat("dead letter at position ",
                                              record.position, " is corrupt"));
    }
    records.push_back(std::move(record));
  }
  std::move(records.begin(), records.end(), std::back_inserter(*out));
  return absl::OkStatus();
}

absl::StatusOr<int64_t> SqliteEventStore::Impl::RequeueDeadLetters(
    absl::string_view sink) {
  absl::MutexLock lock(&write_mu_);
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement stmt,
      writer_->Get("UPDATE dead_letters SET requeued = 1 WHERE sink = ?1"));
  stmt->BindText(1, sink);
  DIPWIRE_RETURN_IF_ERROR(stmt->Run());
  return static_cast<int64_t>(sqlite3_changes(writer_->db()));
}

absl::Status SqliteEventStore::Impl::DeleteDeadLetter(absl::string_view sink,
                                                      uint64_t position) {
  absl::MutexLock lock(&write_mu_);
  DIPWIRE_ASSIGN_OR_RETURN(
      ScopedStatement stmt,
      writer_->Get(
          "DELETE FROM dead_letters WHERE sink = ?1 AND position = ?2"));
  stmt->BindText(1, sink).BindInt64(2, ClampToKey(position));
  return stmt->Run();
}

// SqliteEventStore forwards to Impl.

SqliteEventStore::SqliteEventStore(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

SqliteEventStore::~SqliteEventStore() = default;

absl::StatusOr<std::unique_ptr<SqliteEventStore>> SqliteEventStore::Open(
    const SqliteEventStoreOptions& options) {
  DIPWIRE_ASSIGN_OR_RETURN(std::unique_ptr<Impl> impl, Impl::Open(options));
  return std::unique_ptr<SqliteEventStore>(
      new SqliteEventStore(std::move(impl)));
}

absl::StatusOr<LogHead> SqliteEventStore::Head() { return impl_->Head(); }

absl::Status SqliteEventStore::LookupEvents(
    absl::Span<const std::string> event_ids,
    absl::flat_hash_map<std::string, EventRecord>* found) {
  return impl_->LookupEvents(event_ids, found);
}

absl::Status SqliteEventStore::Append(absl::Span<const StoredEvent> events,
                                      absl::Span<const StoredAlert> alerts) {
  return impl_->Append(events, alerts);
}

absl::Status SqliteEventStore::ReadEvents(uint64_t after, size_t max_count,
                                          std::vector<StoredEvent>* out) {
  return impl_->ReadEvents(after, max_count, out);
}

absl::Status SqliteEventStore::ReadAlerts(uint64_t after, size_t max_count,
                                          size_t max_bytes,
                                          std::vector<StoredAlert>* out) {
  return impl_->ReadAlerts(after, max_count, max_bytes, out);
}

absl::StatusOr<uint64_t> SqliteEventStore::AlertPositionBefore(absl::Time t) {
  return impl_->AlertPositionBefore(t);
}

absl::StatusOr<uint64_t> SqliteEventStore::EventSequenceBefore(absl::Time t) {
  return impl_->EventSequenceBefore(t);
}

absl::Status SqliteEventStore::PutSnapshot(const EngineSnapshot& snapshot) {
  return impl_->PutSnapshot(snapshot);
}

absl::StatusOr<std::optional<EngineSnapshot>>
SqliteEventStore::NewestSnapshot() {
  return impl_->NewestSnapshot();
}

absl::StatusOr<uint64_t> SqliteEventStore::TrimEvents(uint64_t through,
                                                      size_t max_rows) {
  return impl_->TrimEvents(through, max_rows);
}

absl::StatusOr<uint64_t> SqliteEventStore::TrimAlerts(uint64_t through,
                                                      size_t max_rows) {
  return impl_->TrimAlerts(through, max_rows);
}

absl::StatusOr<std::optional<uint64_t>> SqliteEventStore::GetSubscription(
    absl::string_view name) {
  return impl_->GetSubscription(name);
}

absl::Status SqliteEventStore::PutSubscription(absl::string_view name,
                                               uint64_t position,
                                               absl::Time now) {
  return impl_->PutSubscription(name, position, now);
}

absl::Status SqliteEventStore::AdvanceSubscription(absl::string_view name,
                                                   uint64_t position,
                                                   absl::Time now) {
  return impl_->AdvanceSubscription(name, position, now);
}

absl::Status SqliteEventStore::DeleteSubscription(absl::string_view name) {
  return impl_->DeleteSubscription(name);
}

absl::StatusOr<std::vector<SubscriptionRecord>>
SqliteEventStore::ListSubscriptions() {
  return impl_->ListSubscriptions();
}

absl::Status SqliteEventStore::PutDeadLetter(const DeadLetterRecord& record) {
  return impl_->PutDeadLetter(record);
}

absl::Status SqliteEventStore::ListDeadLetters(
    absl::string_view sink, bool requeued_only, size_t max_count,
    std::vector<DeadLetterRecord>* out, int64_t* total) {
  return impl_->ListDeadLetters(sink, requeued_only, max_count, out, total);
}

absl::StatusOr<int64_t> SqliteEventStore::RequeueDeadLetters(
    absl::string_view sink) {
  return impl_->RequeueDeadLetters(sink);
}

absl::Status SqliteEventStore::DeleteDeadLetter(absl::string_view sink,
                                                uint64_t position) {
  return impl_->DeleteDeadLetter(sink, position);
}

}  // namespace dipwire::server
