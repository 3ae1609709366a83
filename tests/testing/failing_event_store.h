#ifndef DIPWIRE_TESTS_TESTING_FAILING_EVENT_STORE_H_
#define DIPWIRE_TESTS_TESTING_FAILING_EVENT_STORE_H_

#include <atomic>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "server/event_store.h"

namespace dipwire::testing {

// Wraps a real EventStore and fails the next Append(s) on demand, like
// leveldb's ErrorEnv: for testing what the layers above do when a commit
// fails. `commit_anyway` makes a failing Append first write through, as a
// COMMIT whose fsync reported an error may still have reached the disk.
//
// Safe for concurrent use, like the store it wraps (which must outlive it).
class FailingEventStore final : public server::EventStore {
 public:
  explicit FailingEventStore(server::EventStore* base) : base_(base) {}

  // The next `count` Append calls fail with `status`.
  void FailAppends(int count, absl::Status status, bool commit_anyway = false) {
    failure_ = std::move(status);
    commit_anyway_ = commit_anyway;
    failures_left_.store(count);
  }

  absl::StatusOr<server::LogHead> Head() override { return base_->Head(); }
  absl::Status LookupEvents(
      absl::Span<const std::string> event_ids,
      absl::flat_hash_map<std::string, server::EventRecord>* found) override {
    return base_->LookupEvents(event_ids, found);
  }
  // Append calls block from now until ReleaseAppends.
  void HoldAppends() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    open_ = false;
  }
  void ReleaseAppends() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    open_ = true;
  }
  // Append calls so far (each one transaction).
  int appends() const { return appends_.load(); }
  // Waits (at most `timeout`) until an Append is held by HoldAppends;
  // returns whether one is.
  bool AwaitAppendWaiting(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&waiting_), timeout);
  }

  absl::Status Append(absl::Span<const server::StoredEvent> events,
                      absl::Span<const server::StoredAlert> alerts) override {
    {
      absl::MutexLock lock(&mu_);
      waiting_ = true;
      mu_.Await(absl::Condition(&open_));
      waiting_ = false;
    }
    appends_.fetch_add(1);
    if (failures_left_.load() > 0) {
      failures_left_.fetch_sub(1);
      if (commit_anyway_) {
        absl::Status written = base_->Append(events, alerts);
        if (!written.ok()) return written;
      }
      return failure_;
    }
    return base_->Append(events, alerts);
  }
  absl::Status ReadEvents(uint64_t after, size_t max_count,
                          std::vector<server::StoredEvent>* out) override {
    read_events_.fetch_add(1);
    return base_->ReadEvents(after, max_count, out);
  }
  // ReadEvents calls so far (a replay of the log makes one per page).
  int read_events() const { return read_events_.load(); }
  absl::Status ReadAlerts(uint64_t after, size_t max_count, size_t max_bytes,
                          std::vector<server::StoredAlert>* out) override {
    {
      absl::MutexLock lock(&mu_);
      ++reads_waiting_;
      mu_.Await(absl::Condition(&reads_open_));
      --reads_waiting_;
    }
    return base_->ReadAlerts(after, max_count, max_bytes, out);
  }

  // ReadAlerts calls block from now until ReleaseReads.
  void HoldReads() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    reads_open_ = false;
  }
  void ReleaseReads() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    reads_open_ = true;
  }
  // Waits (at most `timeout`) until `count` ReadAlerts calls are held.
  bool AwaitHeldReads(int count, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_) {
    struct Arg {
      const int* waiting;
      int count;
    } arg{&reads_waiting_, count};
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(
        absl::Condition(
            +[](Arg* a) { return *a->waiting >= a->count; }, &arg),
        timeout);
  }
  absl::StatusOr<uint64_t> AlertPositionBefore(absl::Time t) override {
    return base_->AlertPositionBefore(t);
  }
  absl::StatusOr<uint64_t> EventSequenceBefore(absl::Time t) override {
    return base_->EventSequenceBefore(t);
  }
  absl::Status PutSnapshot(const server::EngineSnapshot& snapshot) override {
    return base_->PutSnapshot(snapshot);
  }
  absl::StatusOr<std::optional<server::EngineSnapshot>> NewestSnapshot()
      override {
    return base_->NewestSnapshot();
  }
  absl::StatusOr<uint64_t> TrimEvents(uint64_t through,
                                      size_t max_rows) override {
    return base_->TrimEvents(through, max_rows);
  }
  absl::StatusOr<uint64_t> TrimAlerts(uint64_t through,
                                      size_t max_rows) override {
    return base_->TrimAlerts(through, max_rows);
  }
  absl::StatusOr<std::optional<uint64_t>> GetSubscription(
      absl::string_view name) override {
    return base_->GetSubscription(name);
  }
  absl::Status PutSubscription(absl::string_view name, uint64_t position,
                               absl::Time now) override {
    {
      absl::MutexLock lock(&mu_);
      ++puts_waiting_;
      mu_.Await(absl::Condition(&puts_open_));
      --puts_waiting_;
    }
    return base_->PutSubscription(name, position, now);
  }
  // PutSubscription calls block from now until ReleasePuts.
  void HoldPuts() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    puts_open_ = false;
  }
  void ReleasePuts() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    puts_open_ = true;
  }
  // Waits (at most `timeout`) until a PutSubscription call is held.
  bool AwaitHeldPut(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    // Condition's function takes T*, and &puts_waiting_ is an int*.
    // NOLINTNEXTLINE(readability-non-const-parameter)
    bool (*const held)(int*) = +[](int* waiting) { return *waiting > 0; };
    return mu_.AwaitWithTimeout(absl::Condition(held, &puts_waiting_), timeout);
  }
  absl::Status AdvanceSubscription(absl::string_view name, uint64_t position,
                                   absl::Time now) override {
    return base_->AdvanceSubscription(name, position, now);
  }
  absl::Status DeleteSubscription(absl::string_view name) override {
    return base_->DeleteSubscription(name);
  }
  absl::StatusOr<std::vector<server::SubscriptionRecord>> ListSubscriptions()
      override {
    return base_->ListSubscriptions();
  }
  absl::Status PutDeadLetter(const server::DeadLetterRecord& record) override {
    return base_->PutDeadLetter(record);
  }
  absl::Status ListDeadLetters(absl::string_view sink, bool requeued_only,
                               size_t max_count,
                               std::vector<server::DeadLetterRecord>* out,
                               int64_t* total) override {
    return base_->ListDeadLetters(sink, requeued_only, max_count, out, total);
  }
  absl::StatusOr<int64_t> RequeueDeadLetters(absl::string_view sink) override {
    return base_->RequeueDeadLetters(sink);
  }
  absl::Status DeleteDeadLetter(absl::string_view sink,
                                uint64_t position) override {
    return base_->DeleteDeadLetter(sink, position);
  }

 private:
  server::EventStore* const base_;
  std::atomic<int> appends_{0};
  std::atomic<int> read_events_{0};
  std::atomic<int> failures_left_{0};
  absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = true;        // appends: false while held
  bool reads_open_ ABSL_GUARDED_BY(mu_) = true;  // reads: false while held
  int reads_waiting_ ABSL_GUARDED_BY(mu_) = 0;
  bool puts_open_ ABSL_GUARDED_BY(mu_) = true;  // false while held
  int puts_waiting_ ABSL_GUARDED_BY(mu_) = 0;
  bool waiting_ ABSL_GUARDED_BY(mu_) = false;
  // Set before failures_left_ is raised; read after it is seen positive.
  absl::Status failure_;
  bool commit_anyway_ = false;
};

}  // namespace dipwire::testing

#endif  // DIPWIRE_TESTS_TESTING_FAILING_EVENT_STORE_H_
