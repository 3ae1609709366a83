#include "tests/testing/dipwired_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace dipwire::testing {
namespace {

int ExitCode(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace

DipwiredRun RunDipwired(const std::vector<std::string>& args) {
  const std::string dir = NewTempDir("dipwired-run");
  std::string command = absl::StrCat("timeout 30 ", DIPWIRE_DIPWIRED_PATH);
  for (const std::string& arg : args) {
    absl::StrAppend(&command, " '", absl::StrReplaceAll(arg, {{"'", "'\\''"}}),
                    "'");
  }
  absl::StrAppend(&command, " >", dir, "/out 2>", dir, "/err </dev/null");
  // NOLINTNEXTLINE(concurrency-mt-unsafe): tests call it from one thread.
  const int status = std::system(command.c_str());
  DipwiredRun run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.out = ReadWholeFile(absl::StrCat(dir, "/out"));
  run.err = ReadWholeFile(absl::StrCat(dir, "/err"));
  return run;
}

std::string NewTempDir(const std::string& prefix) {
  static std::atomic<int> counter{0};
  std::string dir = absl::StrCat(::testing::TempDir(), "/", prefix, ".",
                                 getpid(), ".", counter.fetch_add(1));
  std::string cmd = absl::StrCat("rm -rf '", dir, "'");
  // NOLINTNEXTLINE(concurrency-mt-unsafe): called before any test thread.
  if (std::system(cmd.c_str()) != 0 || mkdir(dir.c_str(), 0700) != 0) {
    ADD_FAILURE() << "cannot create " << dir;
  }
  return dir;
}

absl::StatusOr<std::unique_ptr<DipwiredProcess>> DipwiredProcess::Start(
    const std::string& data_dir, const std::vector<std::string>& extra_args,
    absl::Duration timeout, const std::string& stderr_path) {
  std::array<int, 2> out_pipe{};
  if (pipe(out_pipe.data()) != 0) return absl::InternalError("pipe failed");
  std::vector<std::string> args = {DIPWIRE_DIPWIRED_PATH, "--listen",
                                   "127.0.0.1:0", "--data-dir", data_dir};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    if (!stderr_path.empty()) {
      const int err = open(stderr_path.c_str(),
                           O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (err < 0) _exit(126);
      dup2(err, STDERR_FILENO);
    }
    close(out_pipe[0]);
    close(out_pipe[1]);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out_pipe[1]);

  // Read stdout until the "listening on" line; the server's log goes to
  // stderr, which the test runner shows.
  std::string output;
  std::string address;
  const absl::Time deadline = absl::Now() + timeout;
  while (address.empty()) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    pollfd pfd{out_pipe[0], POLLIN, 0};
    const int ready =
        poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    std::array<char, 512> buf{};
    const ssize_t n = read(out_pipe[0], buf.data(), buf.size());
    if (n <= 0) break;
    output.append(buf.data(), static_cast<size_t>(n));
    for (size_t start = 0, nl;
         (nl = output.find('\n', start)) != std::string::npos; start = nl + 1) {
      absl::string_view line(output.data() + start, nl - start);
      if (absl::ConsumePrefix(&line, "listening on ")) {
        address = std::string(line);
        break;
      }
    }
  }
  if (address.empty()) {
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    close(out_pipe[0]);
    return absl::UnavailableError(
        absl::StrCat("dipwired did not report a listening address; exit ",
                     ExitCode(status), "; stdout: ", output));
  }
  // The read end stays open for the child's lifetime, so that a later line
  // on its stdout does not raise SIGPIPE; the destructor closes it.
  auto process = std::unique_ptr<DipwiredProcess>(
      new DipwiredProcess(pid, std::move(address)));
  process->stdout_fd_ = out_pipe[0];
  process->startup_output_ = std::move(output);
  return process;
}

DipwiredProcess::~DipwiredProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

absl::StatusOr<int> DipwiredProcess::Stop(int signal, absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("not running");
  kill(pid_, signal);
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      return ExitCode(status);
    }
    if (absl::Now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      pid_ = -1;
      return absl::DeadlineExceededError(absl::StrCat(
          "dipwired did not exit within ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

}  // namespace dipwire::testing
