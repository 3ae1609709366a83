#include "bench/servers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace dipwire::bench {
namespace {

// A "1234 kB" field of /proc/<pid>/status, in KiB; 0 when missing.
int64_t KibField(const std::string& text, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, key) || !absl::ConsumePrefix(&line, ":")) {
      continue;
    }
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, " kB");
    int64_t kib = 0;
    return absl::SimpleAtoi(line, &kib) ? kib : 0;
  }
  return 0;
}

std::string LogPath(Mode mode, const std::string& dir) {
  return absl::StrCat(dir, "/", ModeName(mode), ".log");
}

}  // namespace

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kDipwire:
      return "dipwire";
    case Mode::kBare:
      return "bare";
    case Mode::kRedis:
      return "redis";
  }
  return "?";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::unique_ptr<TempDir>> TempDir::Create(
    const std::string& parent) {
  static std::atomic<int> next{0};
  std::string path =
      absl::StrCat(parent, "/dipwire-bench.", getpid(), ".", next++);
  std::error_code error;
  std::filesystem::remove_all(path, error);
  if (!std::filesystem::create_directories(path, error)) {
    return absl::InternalError(
        absl::StrCat("cannot create ", path, ": ", error.message()));
  }
  return std::unique_ptr<TempDir>(new TempDir(std::move(path)));
}

TempDir::~TempDir() {
  std::error_code error;
  std::filesystem::remove_all(path_, error);
}

absl::StatusOr<int> FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): sockets API
  auto* generic = reinterpret_cast<sockaddr*>(&address);
  const bool ok = bind(fd, generic, sizeof(address)) == 0 &&
                  getsockname(fd, generic, &length) == 0;
  close(fd);
  if (!ok) return absl::InternalError("cannot bind a port on 127.0.0.1");
  return ntohs(address.sin_port);
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    Mode mode, const Programs& programs, const std::string& dir,
    bool fsync_always, int redis_port, absl::Duration timeout) {
  std::vector<std::string> args;
  switch (mode) {
    case Mode::kDipwire:
      // The bench opens 1,000 subscribers and more, and as many publishers
      // as it is told.
      args = {programs.dipwired, "--listen", "127.0.0.1:0", "--data-dir",
              dir + "/data"};
      for (const char* limit : {"--max-streams", "--max-publish-streams"}) {
        args.insert(args.end(), {limit, "100000"});
      }
      break;
    case Mode::kBare:
      args = {programs.bare_server, "--listen", "127.0.0.1:0"};
      break;
    case Mode::kRedis:
      args = {programs.redis_server,
              "--bind",
              "127.0.0.1",
              "--port",
              absl::StrCat(redis_port),
              "--dir",
              dir,
              "--appendonly",
              "yes",
              "--appendfsync",
              fsync_always ? "always" : "everysec",
              "--save",
              "",
              "--maxclients",
              "100000",
              "--logfile",
              LogPath(mode, dir)};
      break;
  }
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const std::string log = LogPath(mode, dir);
  const int log_fd =
      open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  std::array<int, 2> out{};
  if (log_fd < 0 || pipe2(out.data(), O_CLOEXEC) != 0) {
    return absl::InternalError("cannot open the server's log or pipe");
  }
  const pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec. The server dies
    // with the tool, even when the tool is killed.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(out[1], STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  close(log_fd);
  if (pid < 0) {
    close(out[0]);
    return absl::InternalError("fork failed");
  }
  auto server =
      std::unique_ptr<ServerProcess>(new ServerProcess(pid, out[0], log));
  server->port_ = redis_port;
  server->address_ = absl::StrCat("127.0.0.1:", redis_port);
  const bool serving = mode == Mode::kRedis ? server->AwaitPong(timeout)
                                            : server->AwaitListening(timeout);
  if (!serving) {
    return absl::UnavailableError(absl::StrCat(
        args[0], " did not serve within ", absl::FormatDuration(timeout),
        "; its log:\n", ReadFile(log)));
  }
  return server;
}

bool ServerProcess::Exited() {
  int status = 0;
  if (!exited_ && waitpid(pid_, &status, WNOHANG) == pid_) exited_ = true;
  return exited_;
}

bool ServerProcess::AwaitListening(absl::Duration timeout) {
  const int flags = fcntl(stdout_fd_, F_GETFL);
  fcntl(stdout_fd_, F_SETFL, flags | O_NONBLOCK);
  std::string output;
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::array<char, 512> buf{};
    const ssize_t n = read(stdout_fd_, buf.data(), buf.size());
    if (n == 0) return false;  // the server exited
    if (n < 0) {
      absl::SleepFor(absl::Milliseconds(5));
      continue;
    }
    output.append(buf.data(), static_cast<size_t>(n));
    // Complete lines only: the address may arrive in pieces.
    const size_t end = output.rfind('\n');
    if (end == std::string::npos) continue;
    for (absl::string_view line :
         absl::StrSplit(absl::string_view(output).substr(0, end), '\n')) {
      if (absl::ConsumePrefix(&line, "listening on ")) {
        address_ = std::string(absl::StripAsciiWhitespace(line));
        const size_t colon = address_.rfind(':');
        return colon != std::string::npos &&
               absl::SimpleAtoi(address_.substr(colon + 1), &port_);
      }
    }
  }
  return false;
}

bool ServerProcess::AwaitPong(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline && !Exited()) {
    redisContext* context =
        redisConnectWithTimeout("127.0.0.1", port_, timeval{1, 0});
    if (context != nullptr && context->err == 0) {
      // While it loads its append-only file it answers "-LOADING ...".
      auto* reply = static_cast<redisReply*>(redisCommand(context, "PING"));
      const bool pong = reply != nullptr && reply->type == REDIS_REPLY_STATUS &&
                        absl::string_view(reply->str, reply->len) == "PONG";
      if (reply != nullptr) freeReplyObject(reply);
      redisFree(context);
      if (pong) return true;
    } else if (context != nullptr) {
      redisFree(context);
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

void ServerProcess::Kill() const { kill(pid_, SIGKILL); }

int ServerProcess::Stop(absl::Duration timeout) {
  if (exited_) return -1;
  kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) != pid_) {
    if (absl::Now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  exited_ = true;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

ServerProcess::~ServerProcess() {
  if (!exited_) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  close(stdout_fd_);
}

ProcessSample SampleProcess(pid_t pid) {
  ProcessSample sample;
  // Fields after the command name, which may hold spaces: "(name) S ...";
  // utime and stime are fields 14 and 15 of the line, in clock ticks.
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  const size_t paren = stat.rfind(')');
  if (paren != std::string::npos) {
    const std::vector<absl::string_view> fields = absl::StrSplit(
        absl::string_view(stat).substr(paren + 2), ' ', absl::SkipEmpty());
    int64_t user = 0;
    int64_t system = 0;
    if (fields.size() > 12 && absl::SimpleAtoi(fields[11], &user) &&
        absl::SimpleAtoi(fields[12], &system)) {
      sample.cpu_s = static_cast<double>(user + system) /
                     static_cast<double>(sysconf(_SC_CLK_TCK));
    }
  }
  const std::string status = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  sample.rss_kib = KibField(status, "VmRSS");
  sample.hwm_kib = KibField(status, "VmHWM");
  return sample;
}

double OwnCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace dipwire::bench
