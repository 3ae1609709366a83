// The `dipwire` command line tool: see client/cli.h, or run `dipwire help`.

#include <pthread.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "client/cli.h"

namespace {

// Set once RunCli has returned; main then wakes the watcher with
// kStopWatcher so that it returns.
std::atomic<bool> cli_done{false};
constexpr int kStopWatcher = SIGUSR1;

// Dies of `sig` the way a process without a handler would, so that a shell
// sees "killed by SIGINT" and stops a loop or a script.
[[noreturn]] void DieOfSignal(int sig) {
  struct sigaction action = {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  sigaction(sig, &action, nullptr);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  raise(sig);
  std::_Exit(128 + sig);  // Not reached.
}

// Runs on its own thread and takes SIGINT and SIGTERM with sigwait, so that
// the work they trigger runs on an ordinary thread, not in a handler. The
// first one ends a running subscription cleanly (exit 0); with nothing to
// end gracefully, or at the second signal, the process dies of it.
void WatchSignals(sigset_t signals) {
  int received = 0;
  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == kStopWatcher) {
      if (cli_done.load()) return;
      continue;  // Someone else's SIGUSR1: ignored.
    }
    if (++received > 1 || !dipwire::client::InterruptCli()) DieOfSignal(sig);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Blocked before any other thread exists, so that every thread (gRPC's
  // too) inherits the mask and only the watcher receives these signals.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, kStopWatcher);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread watcher(WatchSignals, signals);

  const int exit_code =
      dipwire::client::RunCli(argc, argv, std::cin, std::cout, std::cerr);

  cli_done.store(true);
  pthread_kill(watcher.native_handle(), kStopWatcher);
  watcher.join();
  return exit_code;
}
