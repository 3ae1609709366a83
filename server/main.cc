// dipwired: the dipwire server. Parses flags, starts the server, prints
// "listening on HOST:PORT", and shuts down cleanly on SIGTERM or SIGINT.

#include <algorithm>
#include <csignal>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "server/limits.h"
#include "server/retention.h"
#include "server/server.h"
#include "server/server_config.h"

namespace {

using dipwire::server::LimitFlag;

constexpr absl::string_view kUsageHead =
    "usage: dipwired [--listen HOST:PORT] [--data-dir DIR] [--config FILE] "
    "[--check-config FILE] [--log-level debug|info|warning|error] "
    "[--log-format text|json] [--metrics-listen HOST:PORT] "
    "[--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]] "
    "[--insecure-listen] [--retain-events SPEC] [--retain-alerts SPEC] "
    "[--retention-interval DURATION] [--max-... N]\n"
    "  --listen     address to serve gRPC on (default 127.0.0.1:50051;\n"
    "               port 0 picks a free port); anything but loopback\n"
    "               needs authentication (tokens in the config file, or\n"
    "               --tls-client-ca) or --insecure-listen\n"
    "  --data-dir   where the embedded SQLite store lives (default ./data)\n"
    "  --config     the server config file: proto JSON (.json) or text\n"
    "               format (.textproto, .txtpb) of dipwire.v1.ServerConfig\n"
    "               (README.md, \"Config file\"); flags override it\n"
    "  --check-config  check a config file (with the other flags), print a\n"
    "               summary and exit: 0 when valid, 2 naming the field\n"
    "  --log-level  minimum level of log lines on stderr (default info)\n"
    "  --log-format text (default: time level=... msg=...) or json (one\n"
    "               object per line: time, level, message, ...)\n"
    "  --metrics-listen  serve Prometheus metrics at GET /metrics on this\n"
    "               HOST:PORT (default: none)\n"
    "  --tls-cert, --tls-key  serve TLS with this PEM certificate and key\n"
    "  --tls-client-ca  require client certificates signed by these PEM CAs\n"
    "  --insecure-listen  allow a non-loopback --listen without\n"
    "               authentication (e.g. behind an authenticating proxy)\n"
    "  --retain-events, --retain-alerts  keep the newest N (SPEC a count,\n"
    "               e.g. 1000000) or what was committed within an age (e.g.\n"
    "               30d, 12h, 90m, 3600s); default: keep everything\n"
    "               (README.md, \"Retention\")\n"
    "  --retention-interval  time between retention passes (default 60s)\n"
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
  // Empty: the config file's log.level and log.format, else info and text.
  std::string log_level;
  std::string log_format;
  std::string config;
  bool check_config = false;
  // The flags that override the config file, in command line order:
  // name ("--listen") and value.
  std::vector<std::pair<std::string, std::string>> overrides;
};

// Applies one of Flags::overrides to `options`.
absl::Status ApplyFlag(const std::string& name, const std::string& value,
                       dipwire::server::ServerOptions* options) {
  if (name == "--listen") {
    options->listen = value;
  } else if (name == "--data-dir") {
    options->data_dir = value;
  } else if (name == "--tls-cert") {
    options->tls.cert_file = value;
  } else if (name == "--tls-key") {
    options->tls.key_file = value;
  } else if (name == "--tls-client-ca") {
    options->tls.client_ca_file = value;
  } else if (name == "--insecure-listen") {
    options->insecure_listen = true;
  } else if (name == "--metrics-listen") {
    options->metrics_listen = value;
  } else if (name == "--retain-events") {
    DIPWIRE_ASSIGN_OR_RETURN(
        options->retention.events,
        dipwire::server::ParseRetentionSpec(value, "--retain-events"));
  } else if (name == "--retain-alerts") {
    DIPWIRE_ASSIGN_OR_RETURN(
        options->retention.alerts,
        dipwire::server::ParseRetentionSpec(value, "--retain-alerts"));
  } else if (name == "--retention-interval") {
    DIPWIRE_ASSIGN_OR_RETURN(
        options->retention.interval,
        dipwire::server::ParseRetentionInterval(value, "--retention-interval"));
  } else {
    return dipwire::server::SetLimitFlag(*dipwire::server::FindLimitFlag(name),
                                         value, &options->limits);
  }
  return absl::OkStatus();
}

enum class ParseResult { kRun, kHelp, kUsageError };

// Parses `--flag value` and `--flag=value`, printing why on a usage error.
ParseResult ParseFlags(int argc, char** argv, Flags* flags) {
  int config_flags = 0;  // --config and --check-config
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") return ParseResult::kHelp;
    if (arg == "--insecure-listen") {
      flags->overrides.emplace_back(arg, "");
      continue;
    }
    std::string name(arg);
    std::string value;
    bool has_value = false;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    std::string* target = nullptr;
    const bool overrides =
        name == "--listen" || name == "--data-dir" || name == "--tls-cert" ||
        name == "--tls-key" || name == "--tls-client-ca" ||
        name == "--metrics-listen" || name == "--retain-events" ||
        name == "--retain-alerts" || name == "--retention-interval" ||
        dipwire::server::FindLimitFlag(name) != nullptr;
    if (name == "--log-level") {
      target = &flags->log_level;
    } else if (name == "--log-format") {
      target = &flags->log_format;
    } else if (name == "--config" || name == "--check-config") {
      ++config_flags;
      target = &flags->config;
      flags->check_config = name == "--check-config";
    } else if (!overrides) {
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
    if (overrides) {
      flags->overrides.emplace_back(name, value);
    } else {
      *target = value;
    }
  }
  if (config_flags > 1) {
    // Else the later one would decide whether to check or to serve.
    std::cerr << "dipwired: give one of --config and --check-config, once\n"
              << Usage();
    return ParseResult::kUsageError;
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

// Sets the log level and format: a flag over the config file's log section
// over the defaults (info, text). False, having said why, when one is not
// a level or a format.
bool ConfigureLogging(const Flags& flags, const dipwire::v1::LogConfig& log) {
  const bool level_flag = !flags.log_level.empty();
  const std::string level = level_flag             ? flags.log_level
                            : !log.level().empty() ? log.level()
                                                   : "info";
  if (!SetLogLevel(level)) {
    std::cerr << "dipwired: " << (level_flag ? "--log-level" : "log.level")
              << ": \"" << level << "\" is not debug, info, warning or error\n";
    return false;
  }
  const bool format_flag = !flags.log_format.empty();
  const std::string format = format_flag             ? flags.log_format
                             : !log.format().empty() ? log.format()
                                                     : "text";
  dipwire::LogFormat log_format = dipwire::LogFormat::kText;
  if (!dipwire::ParseLogFormat(format, &log_format)) {
    std::cerr << "dipwired: " << (format_flag ? "--log-format" : "log.format")
              << ": \"" << format << "\" is not text or json\n";
    return false;
  }
  dipwire::SetLogFormat(log_format);
  return true;
}

// The options to serve with: defaults, then the config file, then the
// flags, then the checks; also configures logging. False, having said why,
// on a bad config or flag (a usage error, exit 2).
bool ResolveOptions(const Flags& flags,
                    dipwire::server::ServerOptions* options) {
  dipwire::v1::ServerConfig config;
  if (!flags.config.empty()) {
    auto read = dipwire::server::ReadServerConfig(flags.config);
    absl::Status status = read.status();
    if (status.ok()) {
      config = *std::move(read);
      status = dipwire::server::ApplyServerConfig(config, options);
      if (!status.ok()) {
        status = absl::InvalidArgumentError(
            absl::StrCat(flags.config, ": ", status.message()));
      }
    }
    if (!status.ok()) {
      std::cerr << "dipwired: --config " << status.message() << "\n";
      return false;
    }
  }
  if (!ConfigureLogging(flags, config.log())) return false;
  for (const auto& [name, value] : flags.overrides) {
    const absl::Status status = ApplyFlag(name, value, options);
    if (!status.ok()) {
      std::cerr << "dipwired: " << status.message() << "\n" << Usage();
      return false;
    }
  }
  // Sinks last: their filters compile under the final filter limits.
  auto sinks = dipwire::server::SinkSpecs(
      config, dipwire::server::DefaultCloudEventSource(),
      options->limits.filter);
  if (!sinks.ok()) {
    std::cerr << "dipwired: --config " << flags.config << ": "
              << sinks.status().message() << "\n";
    return false;
  }
  options->sinks = *std::move(sinks);
  const absl::Status checked = dipwire::server::CheckServerOptions(*options);
  if (!checked.ok()) {
    std::cerr << "dipwired: " << checked.message() << "\n";
    return false;
  }
  return true;
}

// The one line --check-config prints for a valid configuration.
std::string Summary(const std::string& path,
                    const dipwire::server::ServerOptions& options) {
  const char* tls = options.tls.cert_file.empty()        ? "off"
                    : options.tls.client_ca_file.empty() ? "on"
                                                         : "mutual";
  return absl::StrCat(
      path, ": OK: listen ", options.listen, ", data-dir ", options.data_dir,
      ", TLS ", tls, ", ", options.tokens.size(), " token(s), ",
      options.sinks.size(), " sink(s), retention events ",
      dipwire::server::FormatRetentionSpec(options.retention.events),
      " alerts ",
      dipwire::server::FormatRetentionSpec(options.retention.alerts));
}

}  // namespace

int main(int argc, char** argv) {
#ifdef NDEBUG
  // Debian's abseil checks every Mutex acquisition for lock-order cycles,
  // about 2-3% of the server's CPU under load. Release builds skip it; Debug
  // builds, which the tests run, keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
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
  dipwire::server::ServerOptions options;
  if (!ResolveOptions(flags, &options)) return 2;
  if (flags.check_config) {
    std::cout << Summary(flags.config, options) << std::endl;
    return 0;
  }

  // Block the shutdown signals in every thread (threads inherit the mask);
  // this thread waits for them with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = dipwire::server::Server::Start(options);
  if (!server.ok()) {
    std::cerr << "dipwired: " << server.status() << "\n";
    return 1;
  }
  DIPWIRE_LOG(kInfo) << "serving " << (*server)->address() << " with data in "
                     << options.data_dir << " (" << (*server)->replayed_events()
                     << " events replayed)";
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
