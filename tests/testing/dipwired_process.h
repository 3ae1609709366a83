#ifndef DIPWIRE_TESTS_TESTING_DIPWIRED_PROCESS_H_
#define DIPWIRE_TESTS_TESTING_DIPWIRED_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace dipwire::testing {

// A fresh, empty directory under the test's temporary directory. Each call
// returns a new one; they are left for the test runner to clean up.
std::string NewTempDir(const std::string& prefix);

// What a run of dipwired that ends by itself (a usage error,
// --check-config) left behind.
struct DipwiredRun {
  int exit_code = -1;  // -1: it did not exit normally
  std::string out;
  std::string err;
};

// Runs dipwired with exactly `args` (nothing added) to its end, bounded to
// 30 s by coreutils' timeout, for flags that stop it before it serves.
DipwiredRun RunDipwired(const std::vector<std::string>& args);

// The real dipwired binary, run as a child process on 127.0.0.1:0, for
// end-to-end tests: kill -9 and restart are real.
//
// Not thread-safe; owned by one test fixture.
class DipwiredProcess {
 public:
  // Starts dipwired with `--listen 127.0.0.1:0 --data-dir data_dir` plus
  // `extra_args`, and waits (at most `timeout`) for its "listening on"
  // line. Returns UNAVAILABLE with the server's output if it exits first or
  // DEADLINE_EXCEEDED if it says nothing in time. With `stderr_path`, the
  // server's stderr (its log) goes to that file instead of the test's.
  static absl::StatusOr<std::unique_ptr<DipwiredProcess>> Start(
      const std::string& data_dir,
      const std::vector<std::string>& extra_args = {},
      absl::Duration timeout = absl::Seconds(30),
      const std::string& stderr_path = "");

  // Kills the process with SIGKILL if it still runs.
  ~DipwiredProcess();
  DipwiredProcess(const DipwiredProcess&) = delete;
  DipwiredProcess& operator=(const DipwiredProcess&) = delete;

  // "127.0.0.1:PORT", as the server printed it.
  const std::string& address() const { return address_; }
  pid_t pid() const { return pid_; }
  // What the server printed on stdout up to its "listening on" line, e.g.
  // "metrics on 127.0.0.1:PORT".
  const std::string& startup_output() const { return startup_output_; }

  // Sends `signal` and waits at most `timeout` for the process to exit.
  // Returns its exit code (128 + signal number when a signal ended it), or
  // DEADLINE_EXCEEDED (after which the process is killed).
  absl::StatusOr<int> Stop(int signal, absl::Duration timeout);

 private:
  DipwiredProcess(pid_t pid, std::string address)
      : pid_(pid), address_(std::move(address)) {}

  pid_t pid_;
  std::string address_;
  std::string startup_output_;
  int stdout_fd_ = -1;
};

}  // namespace dipwire::testing

#endif  // DIPWIRE_TESTS_TESTING_DIPWIRED_PROCESS_H_
