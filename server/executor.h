#ifndef DIPWIRE_SERVER_EXECUTOR_H_
#define DIPWIRE_SERVER_EXECUTOR_H_

#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace dipwire::server {

// A fixed pool of threads that runs blocking work (store reads for listings)
// off gRPC's reaction threads. Tasks run in submission order, several at a
// time.
//
// Safe for concurrent use from multiple threads.
class Executor {
 public:
  explicit Executor(int threads);
  // Runs what is queued, then joins the threads.
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues `task`. Never blocks on the task itself.
  void Schedule(absl::AnyInvocable<void() &&> task) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  std::vector<std::thread> threads_;

  absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_EXECUTOR_H_
