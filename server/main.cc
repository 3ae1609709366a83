// dipwired: the dipwire server. Parses flags, starts the server, prints
// "listening on HOST:PORT", and shuts down cleanly on SIGTERM or SIGINT.

#include <algorithm>
#include <csignal>
#include <iostream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/logging.h"
#include "server/limits.h"
#include "server/server.h"
#include "server/server_config.h"

namespace {

using dipwire::server::LimitFlag;

constexpr absl::string_view kUsageHead =
    "usage: dipwired [--listen HOST:PORT] [--data-dir DIR] [--config FILE] "
    "[--log-level debug|info|warning|error] [--log-format text|json]\n"
    "               [--metrics-listen HOST:PORT] [--max-... N]\n"
    "  --listen     address to serve gRPC on (default 127.0.0.1:50051;\n"
    "               port 0 picks a free port)\n"
    "  --data-dir   where the embedded SQLite store lives (default ./data)\n"
    "  --config     the server config file (webhook sinks; README.md,\n"
    "               \"Webhook sinks\"): proto JSON (.json) or text format\n"
    "               (.textproto, .txtpb) of dipwire.v1.ServerConfig\n"
    "  --log-level  minimum level of log lines on stderr (default info)\n"
    "  --log-format text (default: time level=... msg=...) or json (one\n"
    "               object per line: time, level, message, ...)\n"
    "  --metrics-listen  serve Prometheus metrics at GET /metrics on this\n"
    "               HOST:PORT (default: none)\n"
    "limits (N a whole number of at least 1; README.md, \"Limits\"):\n";

// The usage text; the limits' defaults come from a default Limits.
std::string Usage() {
  std::string usage(kUsageHead);
  const dipwire::server::Limits defaults;
  size_t width = 0;
  for (const LimitFlag& flag : dipwire::server::LimitFlags()) {
    width = std::max(width, flag.name.size());
  }
  for (const LimitFlag& flag : dipwire::server::LimitFlags()) {
    absl::StrAppend(&usage, "  ", flag.name,
                    std::string(width + 2 - flag.name.size(), ' '), flag.help,
                    "; default ", flag.get(defaults), "\n");
  }
  return usage;
}

struct Flags {
  dipwire::server::ServerOptions server;
  std::string log_level = "info";
  std::string log_format = "text";
  std::string config;
};

enum class ParseResult { kRun, kHelp, kUsageError };

// Parses `--flag value` and `--flag=value`, printing why on a usage error.
ParseResult ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") return ParseResult::kHelp;
    std::string name(arg);
    std::string value;
    bool has_value = false;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    std::string* target = nullptr;
    const LimitFlag* limit = dipwire::server::FindLimitFlag(name);
    if (name == "--listen") {
      target = &flags->server.listen;
    } else if (name == "--data-dir") {
      target = &flags->server.data_dir;
    } else if (name == "--log-level") {
      target = &flags->log_level;
    } else if (name == "--config") {
      target = &flags->config;
    } else if (name == "--metrics-listen") {
      target = &flags->server.metrics_listen;
    } else if (name == "--log-format") {
      target = &flags->log_format;
    } else if (limit == nullptr) {
      std::cerr << "dipwired: unknown flag " << arg << "\n" << Usage();
      return ParseResult::kUsageError;
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        std::cerr << "dipwired: " << name << " needs a value\n" << Usage();
        return ParseResult::kUsageError;
      }
      value = argv[++i];
    }
    if (limit != nullptr) {
      const absl::Status set =
          dipwire::server::SetLimitFlag(*limit, value, &flags->server.limits);
      if (!set.ok()) {
        std::cerr << "dipwired: " << set.message() << "\n" << Usage();
        return ParseResult::kUsageError;
      }
      continue;
    }
    *target = value;
  }
  return ParseResult::kRun;
}

bool SetLogLevel(const std::string& level) {
  using dipwire::LogLevel;
  if (level == "debug") {
    dipwire::SetMinLogLevel(LogLevel::kDebug);
  } else if (level == "info") {
    dipwire::SetMinLogLevel(LogLevel::kInfo);
  } else if (level == "warning") {
    dipwire::SetMinLogLevel(LogLevel::kWarning);
  } else if (level == "error") {
    dipwire::SetMinLogLevel(LogLevel::kError);
  } else {
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  switch (ParseFlags(argc, argv, &flags)) {
    case ParseResult::kRun:
      break;
    case ParseResult::kHelp:
      std::cout << Usage();
      return 0;
    case ParseResult::kUsageError:
      return 2;
  }
  if (!SetLogLevel(flags.log_level)) {
    std::cerr << "dipwired: --log-level: \"" << flags.log_level
              << "\" is not debug, info, warning or error\n";
    return 2;
  }

  dipwire::LogFormat log_format = dipwire::LogFormat::kText;
  if (!dipwire::ParseLogFormat(flags.log_format, &log_format)) {
    std::cerr << "dipwired: --log-format: \"" << flags.log_format
              << "\" is not text or json\n";
    return 2;
  }
  dipwire::SetLogFormat(log_format);

  if (!flags.config.empty()) {
    // A bad config is a usage error (exit 2), like a bad flag.
    auto config = dipwire::server::ReadServerConfig(flags.config);
    if (!config.ok()) {
      std::cerr << "dipwired: --config " << config.status().message() << "\n";
      return 2;
    }
    auto sinks = dipwire::server::SinkSpecs(
        *config, dipwire::server::DefaultCloudEventSource(),
        flags.server.limits.filter);
    if (!sinks.ok()) {
      std::cerr << "dipwired: --config " << flags.config << ": "
                << sinks.status().message() << "\n";
      return 2;
    }
    flags.server.sinks = *std::move(sinks);
  }

  // Block the shutdown signals in every thread (threads inherit the mask);
  // this thread waits for them with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = dipwire::server::Server::Start(flags.server);
  if (!server.ok()) {
    std::cerr << "dipwired: " << server.status() << "\n";
    return 1;
  }
  DIPWIRE_LOG(kInfo) << "serving " << (*server)->address() << " with data in "
                     << flags.server.data_dir << " ("
                     << (*server)->replayed_events() << " events replayed)";
  if (!(*server)->metrics_address().empty()) {
    std::cout << "metrics on " << (*server)->metrics_address() << std::endl;
  }
  std::cout << "listening on " << (*server)->address() << std::endl;

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  DIPWIRE_LOG(kInfo) << "received "
                     << (signal_number == SIGINT ? "SIGINT" : "SIGTERM")
                     << "; shutting down";
  (*server)->Shutdown(absl::Seconds(10));
  DIPWIRE_LOG(kInfo) << "stopped";
  return 0;
}
