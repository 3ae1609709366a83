#ifndef DIPWIRE_BENCH_SERVERS_H_
#define DIPWIRE_BENCH_SERVERS_H_

// The servers dipwire-bench starts and measures: dipwired, the bare gRPC
// broadcast server and redis-server, each a child process on 127.0.0.1 with
// its own temporary directory.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace dipwire::bench {

enum class Mode { kDipwire = 0, kBare = 1, kRedis = 2 };
constexpr int kModes = 3;
const char* ModeName(Mode mode);

// The programs to run.
struct Programs {
  std::string dipwired;
  std::string bare_server;
  std::string redis_server = "/usr/bin/redis-server";
};

// A fresh directory, removed with everything in it on destruction.
class TempDir {
 public:
  // Creates `parent`/dipwire-bench.<pid>.<n>.
  static absl::StatusOr<std::unique_ptr<TempDir>> Create(
      const std::string& parent);
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  const std::string path_;
};

// One server process. Not thread-safe, except Kill, which any thread may
// call.
class ServerProcess {
 public:
  // Starts `mode`'s server with its data in `dir` (reused by a restart)
  // and waits at most `timeout` until it serves: dipwired and the bare
  // server print "listening on HOST:PORT" (they listen on 127.0.0.1:0);
  // redis-server answers PING on `redis_port` (append-only file on,
  // appendfsync `always` when `fsync_always`, else `everysec`; no
  // snapshots). Returns UNAVAILABLE with the server's log when it does not.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      Mode mode, const Programs& programs, const std::string& dir,
      bool fsync_always, int redis_port, absl::Duration timeout);

  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  // Kills the process if it still runs.
  ~ServerProcess();

  pid_t pid() const { return pid_; }
  // "127.0.0.1:PORT".
  const std::string& address() const { return address_; }
  int port() const { return port_; }
  // Its stderr (dipwired, the bare server) or log file (redis-server).
  const std::string& log() const { return log_; }

  // SIGKILL, at once: blocked calls to the server then fail.
  void Kill() const;

  // SIGTERM, then SIGKILL after `timeout`. Returns the exit code (128 +
  // signal when a signal ended it).
  int Stop(absl::Duration timeout);

 private:
  ServerProcess(pid_t pid, int stdout_fd, std::string log)
      : pid_(pid), stdout_fd_(stdout_fd), log_(std::move(log)) {}
  bool AwaitListening(absl::Duration timeout);
  bool AwaitPong(absl::Duration timeout);
  bool Exited();

  pid_t pid_;
  int stdout_fd_;
  const std::string log_;
  std::string address_;
  int port_ = 0;
  bool exited_ = false;
};

// A free TCP port on 127.0.0.1 now (for redis-server, which takes no 0).
absl::StatusOr<int> FreePort();

// CPU time (user + system) and memory of a process, from /proc.
struct ProcessSample {
  double cpu_s = 0;
  int64_t rss_kib = 0;  // VmRSS
  int64_t hwm_kib = 0;  // VmHWM: the peak VmRSS so far
};
ProcessSample SampleProcess(pid_t pid);

// This process's own CPU time (user + system), from getrusage.
double OwnCpuSeconds();

std::string ReadFile(const std::string& path);

}  // namespace dipwire::bench

#endif  // DIPWIRE_BENCH_SERVERS_H_
