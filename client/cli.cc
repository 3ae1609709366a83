#include "client/cli.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <istream>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/const_init.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "common/proto_json.h"
#include "common/status_macros.h"
#include "common/token.h"

namespace dipwire::client {
namespace {

constexpr absl::string_view kUsage =
    R"(Usage: dipwire COMMAND [ARGS] [FLAGS]

Commands:
  publish FILE|-       Publish diplomatic events from a JSON lines file ("-"
                       reads standard input), one event per line; blank lines
                       and lines starting with "#" are skipped. Prints one line
                       per event and a summary.
      --batch N          events per Publish call (default 100); the server
                         stores each batch whole or not at all
  subscribe            Stream alerts until Ctrl-C (or --limit). When the
                       connection drops or the server restarts, it says so on
                       standard error and resubscribes by itself (waits from
                       100ms growing to 10s, with jitter) after the last
                       printed alert: nothing skipped, nothing printed twice.
      --filter EXPR      AIP-160 filter, e.g. "severity >= HIGH" (default: all)
      --from START       earliest, latest (default), a cursor, or an RFC 3339
                         time such as 2024-04-01T09:00:00Z
      --output FORMAT    text (default) or json (one alert per line)
      --heartbeat DUR    server heartbeat interval, e.g. 5s (default 15s)
      --limit N          exit after N alerts (default 0: no limit)
      --subscription NAME  a durable subscription (1-64 of a-z 0-9 . _ -):
                         each alert is acknowledged after it is printed, and
                         without --from a restart resumes after the last
                         printed alert; with --from it moves the subscription
      --no-reconnect     exit with the error when the connection drops
  subscriptions list   List durable subscriptions: name, last acknowledged
                       cursor ("-" when none), last update.
      --output FORMAT    text (default) or json
  subscriptions delete NAME
                       Delete a durable subscription.
  sinks list           List the server's webhook sinks: name, format, URL,
                       whether a secret is set (never the secret), cursor,
                       lag, dead letters, filter, last error.
      --output FORMAT    text (default) or json
  sinks dead-letters NAME
                       List a sink's dead letters (alerts it gave up on),
                       oldest first: cursor, attempts, last error, alert.
      --output FORMAT    text (default) or json
  sinks redeliver NAME Queue a sink's dead letters for delivery again; each
                       is removed once delivered.
  alerts               List alert history, oldest first.
      --filter EXPR      AIP-160 filter over alert fields (default: all)
      --output FORMAT    text (default) or json
      --limit N          at most N alerts (default 100; 0: all)
  events               List event history, oldest first.
      --filter EXPR      filter over event fields, e.g. "countries:CHN"
      --output FORMAT    text (default) or json (the format publish reads)
      --limit N          at most N events (default 100; 0: all)
  health               Ask the server's grpc.health.v1 service (no token
                       needed) and print the status: SERVING, NOT_SERVING, ...
                       Exit status 0 if SERVING, 1 if not or unreachable: the
                       probe of the Dockerfile and of Kubernetes.
      --service NAME     a service's health (default: the whole server)
  tokens new NAME --roles ROLE[,ROLE...]
                       Make a bearer token for the server: prints the fresh
                       random token (only this once: keep it secret) and the
                       line to add to the server's config file, which holds
                       only the token's SHA-256. NAME (1-64 of A-Z a-z 0-9
                       . _ -) says who holds it; ROLEs are publish,
                       subscribe, admin. Contacts no server.
  help                 Show this help (also --help, -h).

Flags of every command:
  --server HOST:PORT     the dipwired server (default 127.0.0.1:50051)
  --timeout DURATION     deadline of each request, e.g. 500ms, 10s (default
                         30s; subscribe streams have none)
  --tls-ca PEM           connect with TLS, trusting the CAs in this file
  --tls-cert PEM, --tls-key PEM
                         a client certificate and its key, for a server that
                         requires one (mutual TLS); they also turn TLS on
  --tls-server-name NAME the name the server's certificate must hold, when
                         --server is another address (e.g. 127.0.0.1 in a
                         health probe)
  --token TOKEN          a bearer token for a server with authentication;
                         prefer the environment variable DIPWIRE_TOKEN (a
                         command line shows in ps). It is not sent in
                         plaintext beyond loopback: use TLS, or
  --plaintext-token      send it over plaintext to a non-loopback server all
                         the same (a network you trust)

A flag is written "--flag value" or "--flag=value"; --no-reconnect and
--plaintext-token take no value.
Exit status: 0 success; 1 failure (an event rejected, a server error or an
unreachable server); 2 usage error, including connection flags that cannot
be used as given (a token refused in plaintext, an unreadable TLS file).
)";

// ---------------------------------------------------------------------------
// Interrupting a running subscribe (InterruptCli).

ABSL_CONST_INIT absl::Mutex interrupt_mu(absl::kConstInit);
// True while a subscribe command is between its start and its return.
bool subscribe_running ABSL_GUARDED_BY(interrupt_mu) = false;
// Set by InterruptCli while subscribe_running.
bool subscribe_interrupted ABSL_GUARDED_BY(interrupt_mu) = false;
// The running subscription's stream, once it exists. Borrowed from
// SubscribeSession, which clears it before the stream is destroyed.
AlertStream* subscribe_stream ABSL_GUARDED_BY(interrupt_mu) = nullptr;

// Registers the running subscribe command for InterruptCli, for its whole
// duration, and owns its stream. At most one session is registered at a
// time; a second concurrent one is simply not interruptible.
class SubscribeSession {
 public:
  SubscribeSession() ABSL_LOCKS_EXCLUDED(interrupt_mu) {
    absl::MutexLock lock(&interrupt_mu);
    if (subscribe_running) return;
    registered_ = true;
    subscribe_running = true;
    subscribe_interrupted = false;
  }
  SubscribeSession(const SubscribeSession&) = delete;
  SubscribeSession& operator=(const SubscribeSession&) = delete;

  ~SubscribeSession() ABSL_LOCKS_EXCLUDED(interrupt_mu) {
    {
      absl::MutexLock lock(&interrupt_mu);
      if (registered_) {
        subscribe_running = false;
        subscribe_stream = nullptr;
      }
    }
    // Destroyed outside the lock: the destructor waits for the stream's
    // reader thread.
    stream_.reset();
  }

  // Takes the stream; cancels it at once if InterruptCli came first.
  AlertStream* Attach(std::unique_ptr<AlertStream> stream)
      ABSL_LOCKS_EXCLUDED(interrupt_mu) {
    stream_ = std::move(stream);
    absl::MutexLock lock(&interrupt_mu);
    if (registered_) {
      subscribe_stream = stream_.get();
      if (subscribe_interrupted) stream_->Cancel();
    }
    return stream_.get();
  }

  [[nodiscard]] bool interrupted() const ABSL_LOCKS_EXCLUDED(interrupt_mu) {
    absl::MutexLock lock(&interrupt_mu);
    return registered_ && subscribe_interrupted;
  }

 private:
  bool registered_ = false;
  std::unique_ptr<AlertStream> stream_;
};

// ---------------------------------------------------------------------------
// Command line parsing.

// Flags that take no value; present means "true".
constexpr std::array<absl::string_view, 2> kBooleanFlags = {"no-reconnect",
                                                            "plaintext-token"};

bool IsBooleanFlag(absl::string_view name) {
  return std::find(kBooleanFlags.begin(), kBooleanFlags.end(), name) !=
         kBooleanFlags.end();
}

struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;  // name without "--" -> value
  bool help = false;
};

absl::StatusOr<Args> SplitArgs(int argc, char** argv) {
  Args args;
  bool only_positional = false;
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    std::string positional;
    if (only_positional || arg == "-" || !absl::StartsWith(arg, "-")) {
      positional = std::string(arg);
    } else if (arg == "--") {
      only_positional = true;
      continue;
    } else if (arg == "-h" || arg == "--help") {
      args.help = true;
      continue;
    } else if (absl::StartsWith(arg, "--")) {
      absl::string_view name = arg.substr(2);
      std::string value;
      const size_t eq = name.find('=');
      if (eq != absl::string_view::npos) {
        value = std::string(name.substr(eq + 1));
        name = name.substr(0, eq);
        if (IsBooleanFlag(name)) {
          return absl::InvalidArgumentError(
              absl::StrCat("flag --", name, " takes no value"));
        }
      } else if (IsBooleanFlag(name)) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " needs a value"));
      }
      args.flags[std::string(name)] = std::move(value);
      continue;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", arg));
    }
    if (args.command.empty()) {
      args.command = std::move(positional);
    } else {
      args.positional.push_back(std::move(positional));
    }
  }
  return args;
}

// The flags every command takes.
bool IsConnectionFlag(absl::string_view name) {
  constexpr std::array<absl::string_view, 8> kConnectionFlags = {
      "server",  "timeout",         "tls-ca", "tls-cert",
      "tls-key", "tls-server-name", "token",  "plaintext-token"};
  return std::find(kConnectionFlags.begin(), kConnectionFlags.end(), name) !=
         kConnectionFlags.end();
}

// Checks that every flag is one `command` takes.
absl::Status CheckFlags(const Args& args,
                        const std::set<absl::string_view>& allowed) {
  for (const auto& [name, value] : args.flags) {
    if (IsConnectionFlag(name) || allowed.count(name) > 0) {
      continue;
    }
    return absl::InvalidArgumentError(
        absl::StrCat("unknown flag --", name, " for dipwire ", args.command));
  }
  return absl::OkStatus();
}

const std::string* FindFlag(const Args& args, absl::string_view name) {
  auto it = args.flags.find(std::string(name));
  return it == args.flags.end() ? nullptr : &it->second;
}

absl::StatusOr<absl::Duration> PositiveDurationFlag(const Args& args,
                                                    absl::string_view name,
                                                    absl::Duration fallback) {
  const std::string* value = FindFlag(args, name);
  if (value == nullptr) return fallback;
  absl::Duration d;
  if (!absl::ParseDuration(*value, &d) || d <= absl::ZeroDuration() ||
      d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " ", *value,
                     ": not a positive duration such as 500ms, 10s or 2m"));
  }
  return d;
}

absl::StatusOr<int64_t> IntFlag(const Args& args, absl::string_view name,
                                int64_t fallback, int64_t min) {
  const std::string* value = FindFlag(args, name);
  if (value == nullptr) return fallback;
  int64_t n = 0;
  if (!absl::SimpleAtoi(*value, &n) || n < min) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " ", *value, ": not a whole number >= ", min));
  }
  return n;
}

enum class OutputFormat { kText, kJson };

absl::StatusOr<OutputFormat> OutputFlag(const Args& args) {
  const std::string* value = FindFlag(args, "output");
  if (value == nullptr || *value == "text") return OutputFormat::kText;
  if (*value == "json") return OutputFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("--output ", *value, ": must be text or json"));
}

absl::StatusOr<ClientOptions> ClientFlags(const Args& args) {
  ClientOptions options;
  if (const std::string* server = FindFlag(args, "server")) {
    if (server->empty()) {
      return absl::InvalidArgumentError("--server needs a HOST:PORT");
    }
    options.server = *server;
  }
  DIPWIRE_ASSIGN_OR_RETURN(
      options.call_timeout,
      PositiveDurationFlag(args, "timeout", options.call_timeout));
  for (const auto& [flag, field] :
       {std::pair{"tls-ca", &options.tls_ca_file},
        std::pair{"tls-cert", &options.tls_cert_file},
        std::pair{"tls-key", &options.tls_key_file}}) {
    if (const std::string* value = FindFlag(args, flag)) {
      if (value->empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", flag, " needs a PEM file"));
      }
      *field = *value;
    }
  }
  if (const std::string* name = FindFlag(args, "tls-server-name")) {
    if (name->empty()) {
      return absl::InvalidArgumentError("--tls-server-name needs a NAME");
    }
    options.tls_server_name = *name;
  }
  if ((FindFlag(args, "tls-cert") == nullptr) !=
      (FindFlag(args, "tls-key") == nullptr)) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key go together: set both or neither");
  }
  if (!options.tls_server_name.empty() && options.tls_ca_file.empty() &&
      options.tls_cert_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls-server-name needs TLS (--tls-ca, or --tls-cert and "
        "--tls-key)");
  }
  if (const std::string* token = FindFlag(args, "token")) {
    options.token = *token;
  } else if (const char* env =
                 // Read-only; no thread of this process sets the
                 // environment.
             std::getenv("DIPWIRE_TOKEN")) {  // NOLINT(concurrency-mt-unsafe)
    options.token = env;
  }
  options.plaintext_token = FindFlag(args, "plaintext-token") != nullptr;
  return options;
}

// ---------------------------------------------------------------------------
// Output helpers.

// "INVALID_ARGUMENT: bad filter ..." for a server (or transport) error.
std::string ErrorText(const absl::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(status.code()), ": ",
                      status.message());
}

int PrintError(std::ostream& err, const absl::Status& status) {
  err << "error: " << ErrorText(status) << "\n";
  err.flush();
  return 1;
}

// Client::Connect fails only on the options it was given (a token it
// refuses to send in plaintext, TLS files it cannot read), before any
// connection: a usage error, as dipwire-ingest reports it too.
int ConnectError(std::ostream& err, const absl::Status& status) {
  PrintError(err, status);
  return 2;
}

std::string OneLine(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"\r\n", " "}, {"\n", " "}, {"\r", " "}});
}

absl::Time ToAbslTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// Enum value names, or the number for a value this build does not know.
template <typename Descriptor>
std::string EnumName(const Descriptor* descriptor, int value) {
  const auto* enum_value = descriptor->FindValueByNumber(value);
  if (enum_value == nullptr) return absl::StrCat(value);
  return enum_value->name();
}

// 240100000000 -> "240,100,000,000".
std::string GroupThousands(int64_t value) {
  const uint64_t magnitude = value < 0 ? 0 - static_cast<uint64_t>(value)
                                       : static_cast<uint64_t>(value);
  const std::string digits = absl::StrCat(magnitude);
  std::string grouped = value < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) grouped.push_back(',');
    grouped.push_back(digits[i]);
  }
  return grouped;
}

std::string DescribeEvent(const v1::DiplomaticEvent& event) {
  switch (event.kind_case()) {
    case v1::DiplomaticEvent::kMeeting: {
      const v1::LeaderMeeting& m = event.meeting();
      std::vector<std::string> names;
      for (const v1::Actor& actor : m.participants()) {
        names.push_back(actor.name());
      }
      std::string text = absl::StrJoin(names, ", ");
      if (!m.city().empty()) absl::StrAppend(&text, " in ", m.city());
      absl::StrAppend(
          &text, " (",
          EnumName(v1::LeaderMeeting::Status_descriptor(), m.status()), ")");
      return text;
    }
    case v1::DiplomaticEvent::kTrade: {
      const v1::TradeFigure& t = event.trade();
      std::string text =
          absl::StrCat(t.country_a(), "-", t.country_b(), " ",
                       EnumName(v1::TradeFigure::Flow_descriptor(), t.flow()),
                       " ", t.year(), ": $", GroupThousands(t.value_usd()));
      if (!t.reporter().empty()) {
        absl::StrAppend(&text, " (", t.reporter(), ")");
      }
      return text;
    }
    case v1::DiplomaticEvent::kPeaceTalk: {
      const v1::PeaceTalkUpdate& p = event.peace_talk();
      return absl::StrCat(
          p.title().empty() ? p.process_id() : p.title(), ": ",
          EnumName(v1::PeaceTalkUpdate::Status_descriptor(), p.status()));
    }
    case v1::DiplomaticEvent::KIND_NOT_SET:
      break;
  }
  return "(no kind)";
}

// The name of the event's `kind` field ("meeting", "trade", "peace_talk"),
// as the filter language's `kind` field names it.
absl::string_view KindName(const v1::DiplomaticEvent& event) {
  const google::protobuf::FieldDescriptor* field =
      v1::DiplomaticEvent::descriptor()->FindFieldByNumber(event.kind_case());
  if (field == nullptr) return "none";
  return field->name();
}

// ---------------------------------------------------------------------------
// publish

struct PendingEvent {
  int line;
  v1::DiplomaticEvent event;
};

struct Tally {
  int64_t accepted = 0;
  int64_t duplicate = 0;
  int64_t rejected = 0;
};

// Codes that reject this batch's content: the next batch may well succeed.
// Anything else (unreachable, deadline, auth, internal) ends the command.
bool IsBatchRejection(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return true;
    default:
      return false;
  }
}

// The first "events[<i>]" in `message` with i < size, if any.
std::optional<size_t> EventIndexIn(absl::string_view message, size_t size) {
  constexpr absl::string_view kPrefix = "events[";
  for (size_t pos = message.find(kPrefix); pos != absl::string_view::npos;
       pos = message.find(kPrefix, pos + 1)) {
    absl::string_view rest = message.substr(pos + kPrefix.size());
    const size_t close = rest.find(']');
    size_t index = 0;
    if (close != absl::string_view::npos &&
        absl::SimpleAtoi(rest.substr(0, close), &index) && index < size) {
      return index;
    }
  }
  return std::nullopt;
}

std::string LineRange(const std::vector<PendingEvent>& batch) {
  if (batch.front().line == batch.back().line) {
    return absl::StrCat("line ", batch.front().line);
  }
  return absl::StrCat("lines ", batch.front().line, "-", batch.back().line);
}

// Publishes `batch`, printing one line per event. A rejected batch is
// reported and counted; the returned status is not OK only for an error
// that ends the command (printed by the caller).
absl::Status SendBatch(Client& client, const std::vector<PendingEvent>& batch,
                       Tally* tally, std::ostream& out, std::ostream& err) {
  v1::PublishRequest request;
  for (const PendingEvent& pending : batch) {
    *request.add_events() = pending.event;
  }
  absl::StatusOr<v1::PublishResponse> response = client.Publish(request);
  if (!response.ok()) {
    const absl::Status& status = response.status();
    if (!IsBatchRejection(status.code())) return status;
    const std::string text = status.code() == absl::StatusCode::kInvalidArgument
                                 ? std::string(status.message())
                                 : ErrorText(status);
    const std::optional<size_t> index =
        EventIndexIn(status.message(), batch.size());
    if (index.has_value()) {
      err << "line " << batch[*index].line << ": " << text << "\n";
      if (batch.size() > 1) {
        err << LineRange(batch) << ": not stored: the " << batch.size()
            << " events of this batch are rejected together\n";
      }
    } else {
      err << LineRange(batch) << ": " << text << "\n";
    }
    err.flush();
    tally->rejected += static_cast<int64_t>(batch.size());
    return absl::OkStatus();
  }
  if (response->results_size() != static_cast<int>(batch.size())) {
    return absl::InternalError(
        absl::StrCat("the server returned ", response->results_size(),
                     " results for ", batch.size(), " events"));
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    const v1::PublishResult& result = response->results(static_cast<int>(i));
    const std::string& event_id = result.event_id().empty()
                                      ? batch[i].event.event_id()
                                      : result.event_id();
    switch (result.outcome()) {
      case v1::PublishResult::ACCEPTED:
        ++tally->accepted;
        break;
      case v1::PublishResult::DUPLICATE:
        ++tally->duplicate;
        break;
      default:
        ++tally->rejected;
        err << "line " << batch[i].line << ": the server returned outcome "
            << result.outcome() << " for " << event_id << "\n";
        continue;
    }
    out << v1::PublishResult::Outcome_Name(result.outcome())
        << " seq=" << result.sequence() << " " << event_id;
    if (!result.alert_ids().empty()) {
      out << " -> " << absl::StrJoin(result.alert_ids(), " ");
    }
    out << "\n";
  }
  out.flush();
  return absl::OkStatus();
}

int RunPublish(const Args& args, std::istream& in, std::ostream& out,
               std::ostream& err) {
  // Usage errors are handled by the caller; see RunCli.
  const int64_t batch_size = *IntFlag(args, "batch", 100, 1);
  const ClientOptions options = *ClientFlags(args);
  const std::string& path = args.positional.front();

  std::ifstream file;
  std::istream* input = &in;
  if (path != "-") {
    file.open(path);
    if (!file.is_open()) {
      err << "error: cannot open " << path << ": "
          << std::generic_category().message(errno) << "\n";
      return 1;
    }
    input = &file;
  }

  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  if (!client.ok()) return ConnectError(err, client.status());

  Tally tally;
  std::vector<PendingEvent> batch;
  std::string raw;
  int line_number = 0;
  while (std::getline(*input, raw)) {
    ++line_number;
    absl::string_view line = raw;
    if (line_number == 1) absl::ConsumePrefix(&line, "\xEF\xBB\xBF");  // BOM
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    absl::StatusOr<v1::DiplomaticEvent> event = ParseEventJson(line);
    if (!event.ok()) {
      err << "line " << line_number << ": " << event.status().message() << "\n";
      err.flush();
      ++tally.rejected;
      continue;
    }
    batch.push_back(PendingEvent{line_number, *std::move(event)});
    if (static_cast<int64_t>(batch.size()) == batch_size) {
      const absl::Status sent = SendBatch(**client, batch, &tally, out, err);
      if (!sent.ok()) return PrintError(err, sent);
      batch.clear();
    }
  }
  if (input->bad()) {
    err << "error: cannot read " << (path == "-" ? "standard input" : path)
        << "\n";
    return 1;
  }
  if (!batch.empty()) {
    const absl::Status sent = SendBatch(**client, batch, &tally, out, err);
    if (!sent.ok()) return PrintError(err, sent);
  }
  out << tally.accepted << " accepted, " << tally.duplicate << " duplicate, "
      << tally.rejected << " rejected\n";
  out.flush();
  return tally.rejected == 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------
// subscribe, alerts, events

void PrintAlert(const v1::Alert& alert, OutputFormat format,
                std::ostream& out) {
  out << (format == OutputFormat::kJson ? ToJsonLine(alert)
                                        : FormatAlertLine(alert))
      << "\n";
}

// The SubscribeRequest the flags of `subscribe` ask for; sets `*heartbeat`
// to the interval the server will use.
v1::SubscribeRequest SubscribeRequestFromFlags(const Args& args,
                                               absl::Duration* heartbeat) {
  v1::SubscribeRequest request;
  if (const std::string* from = FindFlag(args, "from")) {
    request = *ParseFrom(*from);
  }
  if (const std::string* filter = FindFlag(args, "filter")) {
    request.set_filter(*filter);
  }
  if (const std::string* name = FindFlag(args, "subscription")) {
    request.set_subscription(*name);
  }
  // The server sends a heartbeat at least this often on a quiet stream
  // (DESIGN.md: unset means 15 s, under 1 s is raised to 1 s).
  *heartbeat = absl::Seconds(15);
  if (FindFlag(args, "heartbeat") != nullptr) {
    *heartbeat = std::max(
        absl::Seconds(1),
        *PositiveDurationFlag(args, "heartbeat", absl::ZeroDuration()));
    const int64_t seconds = absl::ToInt64Seconds(*heartbeat);
    request.mutable_heartbeat_interval()->set_seconds(seconds);
    request.mutable_heartbeat_interval()->set_nanos(static_cast<int32_t>(
        absl::ToInt64Nanoseconds(*heartbeat - absl::Seconds(seconds))));
  }
  return request;
}

// Acknowledges a printed alert for durable subscription `name` (none when
// empty). After printing: at least once, and a restart resumes after the
// last acknowledged, so printed, alert.
absl::Status AcknowledgePrinted(Client& client, const std::string& name,
                                const v1::Alert& alert) {
  if (name.empty()) return absl::OkStatus();
  v1::AcknowledgeRequest ack;
  ack.set_subscription(name);
  ack.set_cursor(alert.cursor());
  return client.Acknowledge(ack).status();
}

// Standard error of a running subscribe: written by the command's thread
// and, for reconnect notices, by the stream's reader thread.
class SubscribeNotices {
 public:
  // `err` must outlive this object.
  explicit SubscribeNotices(std::ostream& err) : err_(&err) {}

  // ReconnectOptions::on_event: one line when the connection drops, one
  // when the stream is live again; silent about the attempts in between.
  void OnEvent(const ReconnectEvent& event) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (event.kind == ReconnectEvent::Kind::kResumed) {
      reconnecting_ = false;
      *err_ << "dipwire: reconnected; resuming after the last printed alert\n";
    } else if (!reconnecting_) {
      reconnecting_ = true;
      *err_ << "dipwire: connection lost (" << ErrorText(event.status)
            << "); reconnecting\n";
    }
    err_->flush();
  }

  int Error(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return PrintError(*err_, status);
  }

  int Error(absl::string_view message) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    *err_ << "error: " << message << "\n";
    err_->flush();
    return 1;
  }

 private:
  absl::Mutex mu_;
  std::ostream* const err_ ABSL_PT_GUARDED_BY(mu_);
  bool reconnecting_ ABSL_GUARDED_BY(mu_) = false;
};

// Prints and acknowledges (for durable subscription `name`, if not empty)
// the alerts of `response`, counting them in `*printed`. Returns the exit
// status when the command is done: an error, or `limit` (0: none) reached.
// With `reconnect`, an ack that fails because the server cannot be reached
// (UNAVAILABLE, or CANCELLED by a server shutting down) is not an error:
// the next ack that succeeds covers it (acks are cumulative), and if the
// server went away the stream breaks too and its re-subscribe moves the
// subscription to the last alert of this response (StartSubscription),
// which this loop prints before it asks for more. The ack of the alert that
// reaches `limit` is the exception: nothing follows it.
std::optional<int> PrintResponse(const v1::SubscribeResponse& response,
                                 Client& client, const std::string& name,
                                 bool reconnect, OutputFormat format,
                                 int64_t limit, int64_t* printed,
                                 std::ostream& out, SubscribeNotices& notices) {
  for (const v1::Alert& alert : response.alerts()) {
    PrintAlert(alert, format, out);
    out.flush();
    if (!out) return notices.Error("cannot write the output");
    const absl::Status acked = AcknowledgePrinted(client, name, alert);
    const bool outage = acked.code() == absl::StatusCode::kUnavailable ||
                        acked.code() == absl::StatusCode::kCancelled;
    const bool last = ++*printed == limit;
    if (!acked.ok() && (last || !reconnect || !outage)) {
      return notices.Error(acked);
    }
    if (last) return 0;
  }
  return std::nullopt;
}

// What `subscribe` reports after `silence_limit` without a response.
absl::Status SilenceError(absl::Duration silence_limit) {
  return absl::UnavailableError(absl::StrCat(
      "nothing from the server (not even a heartbeat) for ",
      absl::FormatDuration(silence_limit), "; the connection seems lost"));
}

// Starts the stream of `subscribe`: resumable, reporting to `notices`
// (which must outlive the stream), unless `reconnect` is false.
absl::StatusOr<std::unique_ptr<AlertStream>> StartSubscription(
    Client& client, const v1::SubscribeRequest& request, bool reconnect,
    SubscribeNotices* notices) {
  if (!reconnect) return client.Subscribe(request);
  // Each alert is acknowledged after it is printed, before the next Next.
  // A re-subscribe (on the stream's reader thread) moves a durable
  // subscription to the last alert of the response Next returned last,
  // which the command prints before it asks for more; a process killed
  // while printing that response leaves the rest of it unprinted, with the
  // subscription's cursor already past it.
  ReconnectOptions options;
  options.on_event = [notices](const ReconnectEvent& event) {
    notices->OnEvent(event);
  };
  return client.SubscribeResumable(request, std::move(options));
}

int RunSubscribe(const Args& args, std::ostream& out, std::ostream& err) {
  const ClientOptions options = *ClientFlags(args);
  const OutputFormat format = *OutputFlag(args);
  const int64_t limit = *IntFlag(args, "limit", 0, 0);
  const bool reconnect = FindFlag(args, "no-reconnect") == nullptr;
  absl::Duration heartbeat;
  const v1::SubscribeRequest request =
      SubscribeRequestFromFlags(args, &heartbeat);
  // Hearing nothing for two heartbeats and then some means the server or
  // the path to it is gone, even if TCP has not noticed yet.
  const absl::Duration silence_limit = 2 * heartbeat + absl::Seconds(10);

  // Declared before the session, which owns the stream: the stream's
  // reader thread reports to it until the stream is destroyed.
  SubscribeNotices notices(err);
  SubscribeSession session;
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  if (!client.ok()) return ConnectError(err, client.status());
  absl::StatusOr<std::unique_ptr<AlertStream>> started =
      StartSubscription(**client, request, reconnect, &notices);
  if (!started.ok()) return notices.Error(started.status());
  AlertStream* stream = session.Attach(*std::move(started));

  int64_t printed = 0;
  v1::SubscribeResponse response;
  while (true) {
    absl::StatusOr<bool> next = stream->Next(&response, silence_limit);
    if (session.interrupted()) return 0;
    if (!next.ok()) {
      // A resumable stream outlives silence: the channel's keepalive pings
      // notice a dead connection (within 40 s) and the stream reconnects.
      // Without it, silence is the only sign of a dead connection.
      const bool silent =
          next.status().code() == absl::StatusCode::kDeadlineExceeded;
      if (silent && reconnect) continue;
      return notices.Error(silent ? SilenceError(silence_limit)
                                  : next.status());
    }
    if (!*next) return 0;  // The server ended the stream.
    const std::optional<int> done =
        PrintResponse(response, **client, request.subscription(), reconnect,
                      format, limit, &printed, out, notices);
    if (done.has_value()) return *done;
  }
}

// Lists alert or event history page by page: `fetch(page_size, token)`
// returns a page, `print(page)` prints at most `room` items of it and
// returns how many it printed.
template <typename Response, typename Fetch, typename Print>
int ListPages(int64_t limit, Fetch fetch, Print print, std::ostream& out,
              std::ostream& err) {
  constexpr int64_t kMaxPageSize = 1000;
  int64_t printed = 0;
  std::string token;
  while (limit == 0 || printed < limit) {
    const int64_t page_size =
        limit == 0 ? kMaxPageSize : std::min(kMaxPageSize, limit - printed);
    absl::StatusOr<Response> page =
        fetch(static_cast<int32_t>(page_size), token);
    if (!page.ok()) return PrintError(err, page.status());
    printed += print(*page, limit == 0 ? page_size : limit - printed);
    out.flush();
    if (page->next_page_token().empty() || page->next_page_token() == token) {
      break;
    }
    token = page->next_page_token();
  }
  if (!out) {
    err << "error: cannot write the output\n";
    return 1;
  }
  return 0;
}

int RunAlerts(const Args& args, std::ostream& out, std::ostream& err) {
  const ClientOptions options = *ClientFlags(args);
  const OutputFormat format = *OutputFlag(args);
  const int64_t limit = *IntFlag(args, "limit", 100, 0);
  const std::string* filter = FindFlag(args, "filter");
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  if (!client.ok()) return ConnectError(err, client.status());
  return ListPages<v1::ListAlertsResponse>(
      limit,
      [&](int32_t page_size, const std::string& token) {
        v1::ListAlertsRequest request;
        if (filter != nullptr) request.set_filter(*filter);
        request.set_page_size(page_size);
        request.set_page_token(token);
        return (*client)->ListAlerts(request);
      },
      [&](const v1::ListAlertsResponse& page, int64_t room) {
        int64_t n = 0;
        for (const v1::Alert& alert : page.alerts()) {
          if (n == room) break;
          PrintAlert(alert, format, out);
          ++n;
        }
        return n;
      },
      out, err);
}

int RunEvents(const Args& args, std::ostream& out, std::ostream& err) {
  const ClientOptions options = *ClientFlags(args);
  const OutputFormat format = *OutputFlag(args);
  const int64_t limit = *IntFlag(args, "limit", 100, 0);
  const std::string* filter = FindFlag(args, "filter");
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  if (!client.ok()) return ConnectError(err, client.status());
  return ListPages<v1::ListEventsResponse>(
      limit,
      [&](int32_t page_size, const std::string& token) {
        v1::ListEventsRequest request;
        if (filter != nullptr) request.set_filter(*filter);
        request.set_page_size(page_size);
        request.set_page_token(token);
        return (*client)->ListEvents(request);
      },
      [&](const v1::ListEventsResponse& page, int64_t room) {
        int64_t n = 0;
        for (int i = 0; i < page.events_size() && n < room; ++i, ++n) {
          if (format == OutputFormat::kJson) {
            out << ToJsonLine(page.events(i)) << "\n";
          } else {
            const uint64_t sequence =
                i < page.sequences_size() ? page.sequences(i) : 0;
            out << FormatEventLine(page.events(i), sequence) << "\n";
          }
        }
        return n;
      },
      out, err);
}

int RunSubscriptions(const Args& args, std::ostream& out, std::ostream& err) {
  const ClientOptions options = *ClientFlags(args);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  if (!client.ok()) return ConnectError(err, client.status());
  if (args.positional.front() == "delete") {
    v1::DeleteSubscriptionRequest request;
    request.set_name(args.positional[1]);
    absl::StatusOr<v1::DeleteSubscriptionResponse> deleted =
        (*client)->DeleteSubscription(request);
    if (!deleted.ok()) return PrintError(err, deleted.status());
    out << "deleted " << args.positional[1] << "\n";
    out.flush();
    return 0;
  }
  const OutputFormat format = *OutputFlag(args);
  absl::StatusOr<v1::ListSubscriptionsResponse> listed =
      (*client)->ListSubscriptions(v1::ListSubscriptionsRequest());
  if (!listed.ok()) return PrintError(err, listed.status());
  for (const v1::Subscription& subscription : listed->subscriptions()) {
    if (format == OutputFormat::kJson) {
      out << ToJsonLine(subscription) << "\n";
    } else {
      out << subscription.name() << " "
          << (subscription.cursor().empty() ? "-" : subscription.cursor())
          << " "
          << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                              ToAbslTime(subscription.updated_at()),
                              absl::UTCTimeZone())
          << "\n";
    }
  }
  out.flush();
  if (!out) {
    err << "error: cannot write the output\n";
    return 1;
  }
  return 0;
}

// Ends a listing command: 0, or 1 when the output could not be written.
int FinishOutput(std::ostream& out, std::ostream& err) {
  out.flush();
  if (!out) {
    err << "error: cannot write the output\n";
    return 1;
  }
  return 0;
}

int RunSinksRedeliver(Client& client, const std::string& name,
                      std::ostream& out, std::ostream& err) {
  v1::RedeliverDeadLettersRequest request;
  request.set_sink(name);
  absl::StatusOr<v1::RedeliverDeadLettersResponse> requeued =
      client.RedeliverDeadLetters(request);
  if (!requeued.ok()) return PrintError(err, requeued.status());
  out << "queued " << requeued->requeued() << " dead letter"
      << (requeued->requeued() == 1 ? "" : "s") << " of " << name
      << " for redelivery\n";
  return FinishOutput(out, err);
}

int RunSinksDeadLetters(Client& client, const std::string& name,
                        OutputFormat format, std::ostream& out,
                        std::ostream& err) {
  v1::ListDeadLettersRequest request;
  request.set_sink(name);
  absl::StatusOr<v1::ListDeadLettersResponse> listed =
      client.ListDeadLetters(request);
  if (!listed.ok()) return PrintError(err, listed.status());
  for (const v1::DeadLetter& letter : listed->dead_letters()) {
    if (format == OutputFormat::kJson) {
      out << ToJsonLine(letter) << "\n";
      continue;
    }
    out << letter.alert().cursor() << " attempts=" << letter.attempts()
        << (letter.redelivering() ? " redelivering" : "") << " error=\""
        << OneLine(letter.last_error()) << "\" "
        << FormatAlertLine(letter.alert()) << "\n";
  }
  if (format == OutputFormat::kText &&
      listed->total() > listed->dead_letters_size()) {
    out << "(" << listed->total() - listed->dead_letters_size()
        << " more not shown)\n";
  }
  return FinishOutput(out, err);
}

// One sink per line: name format url secret=set|none cursor=... lag=N
// dead_letters=N filter="..." [last_error="..."].
void PrintSinkLine(const v1::Sink& sink, std::ostream& out) {
  out << sink.name() << " "
      << EnumName(v1::Sink::Format_descriptor(), sink.format()) << " "
      << sink.url() << " secret=" << (sink.secret_set() ? "set" : "none")
      << " cursor=" << (sink.cursor().empty() ? "-" : sink.cursor())
      << " lag=" << sink.lag() << " dead_letters=" << sink.dead_letters()
      << " filter=\"" << sink.filter() << "\"";
  if (!sink.last_error().empty()) {
    out << " last_error=\"" << OneLine(sink.last_error()) << "\"";
  }
  out << "\n";
}

int RunSinks(const Args& args, std::ostream& out, std::ostream& err) {
  const ClientOptions options = *ClientFlags(args);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  if (!client.ok()) return ConnectError(err, client.status());
  const std::string& verb = args.positional.front();
  if (verb == "redeliver") {
    return RunSinksRedeliver(**client, args.positional[1], out, err);
  }
  const OutputFormat format = *OutputFlag(args);
  if (verb == "dead-letters") {
    return RunSinksDeadLetters(**client, args.positional[1], format, out, err);
  }
  absl::StatusOr<v1::ListSinksResponse> listed =
      (*client)->ListSinks(v1::ListSinksRequest());
  if (!listed.ok()) return PrintError(err, listed.status());
  for (const v1::Sink& sink : listed->sinks()) {
    if (format == OutputFormat::kJson) {
      out << ToJsonLine(sink) << "\n";
    } else {
      PrintSinkLine(sink, out);
    }
  }
  return FinishOutput(out, err);
}

int RunHealth(const Args& args, std::ostream& out, std::ostream& err) {
  ClientOptions options = *ClientFlags(args);
  // The health service answers without a token: none is sent (nor refused
  // in plaintext) when one is at hand, e.g. DIPWIRE_TOKEN in a pod's env.
  options.token.clear();
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  if (!client.ok()) return ConnectError(err, client.status());
  const std::string* service = FindFlag(args, "service");
  const absl::StatusOr<HealthStatus> health =
      (*client)->CheckHealth(service == nullptr ? "" : *service);
  if (!health.ok()) return PrintError(err, health.status());
  out << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(*health)
      << "\n";
  out.flush();
  return *health == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
}

absl::Status CheckSinks(const Args& args) {
  const std::vector<std::string>& words = args.positional;
  if (!words.empty() && words.front() == "list" && words.size() == 1) {
    DIPWIRE_RETURN_IF_ERROR(CheckFlags(args, {"output"}));
    return OutputFlag(args).status();
  }
  if (!words.empty() && words.front() == "dead-letters" && words.size() == 2) {
    DIPWIRE_RETURN_IF_ERROR(CheckFlags(args, {"output"}));
    return OutputFlag(args).status();
  }
  if (!words.empty() && words.front() == "redeliver" && words.size() == 2) {
    return CheckFlags(args, {});
  }
  return absl::InvalidArgumentError(
      R"(sinks takes "list", "dead-letters NAME" or "redeliver NAME")");
}

absl::Status CheckPublish(const Args& args) {
  DIPWIRE_RETURN_IF_ERROR(CheckFlags(args, {"batch"}));
  if (args.positional.size() != 1) {
    return absl::InvalidArgumentError(
        "publish takes one FILE (or - for standard input)");
  }
  return IntFlag(args, "batch", 100, 1).status();
}

absl::Status CheckSubscribe(const Args& args) {
  DIPWIRE_RETURN_IF_ERROR(
      CheckFlags(args, {"filter", "from", "output", "heartbeat", "limit",
                        "subscription", "no-reconnect"}));
  DIPWIRE_RETURN_IF_ERROR(OutputFlag(args).status());
  DIPWIRE_RETURN_IF_ERROR(IntFlag(args, "limit", 0, 0).status());
  DIPWIRE_RETURN_IF_ERROR(
      PositiveDurationFlag(args, "heartbeat", absl::Seconds(15)).status());
  const std::string* from = FindFlag(args, "from");
  return from == nullptr ? absl::OkStatus() : ParseFrom(*from).status();
}

absl::Status CheckSubscriptions(const Args& args) {
  const std::vector<std::string>& words = args.positional;
  if (!words.empty() && words.front() == "list" && words.size() == 1) {
    DIPWIRE_RETURN_IF_ERROR(CheckFlags(args, {"output"}));
    return OutputFlag(args).status();
  }
  if (!words.empty() && words.front() == "delete" && words.size() == 2) {
    return CheckFlags(args, {});
  }
  return absl::InvalidArgumentError(
      R"(subscriptions takes "list" or "delete NAME")");
}

absl::Status CheckTokens(const Args& args) {
  const std::vector<std::string>& words = args.positional;
  if (words.size() != 2 || words.front() != "new") {
    return absl::InvalidArgumentError(
        R"(tokens takes "new NAME --roles ROLE[,ROLE...]")");
  }
  DIPWIRE_RETURN_IF_ERROR(CheckFlags(args, {"roles"}));
  const absl::string_view name = words[1];
  if (!IsTokenName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", absl::CHexEscape(name),
                     "\" is not a token name (1 to 64 of A-Z, a-z, 0-9, '.', "
                     "'_', '-')"));
  }
  const std::string* roles = FindFlag(args, "roles");
  if (roles == nullptr) {
    return absl::InvalidArgumentError(
        "--roles is required: publish, subscribe and/or admin, "
        "comma-separated");
  }
  for (const absl::string_view role : absl::StrSplit(*roles, ',')) {
    if (role != "publish" && role != "subscribe" && role != "admin") {
      return absl::InvalidArgumentError(
          absl::StrCat("--roles: \"", absl::CHexEscape(role),
                       "\" is not publish, subscribe or admin"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckListing(const Args& args) {
  DIPWIRE_RETURN_IF_ERROR(CheckFlags(args, {"filter", "output", "limit"}));
  DIPWIRE_RETURN_IF_ERROR(OutputFlag(args).status());
  return IntFlag(args, "limit", 100, 0).status();
}

absl::Status CheckCommandFlags(const Args& args) {
  const std::string& command = args.command;
  if (command == "publish") return CheckPublish(args);
  if (command == "subscribe") return CheckSubscribe(args);
  if (command == "alerts" || command == "events") return CheckListing(args);
  if (command == "subscriptions") return CheckSubscriptions(args);
  if (command == "sinks") return CheckSinks(args);
  if (command == "health") return CheckFlags(args, {"service"});
  if (command == "tokens") return CheckTokens(args);
  if (command == "help") return CheckFlags(args, {});
  return absl::InvalidArgumentError(
      absl::StrCat("unknown command \"", command, "\""));
}

// Checks a command's arguments and flag values up front, so that a usage
// error never happens halfway through a command.
absl::Status CheckCommand(const Args& args) {
  DIPWIRE_RETURN_IF_ERROR(CheckCommandFlags(args));
  if (args.command != "publish" && args.command != "subscriptions" &&
      args.command != "sinks" && args.command != "tokens" &&
      !args.positional.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        args.command, " takes no argument \"", args.positional.front(), "\""));
  }
  return ClientFlags(args).status();
}

// One synopsis line per command, for usage errors.
std::string Synopsis(absl::string_view command) {
  static constexpr std::array<std::pair<absl::string_view, absl::string_view>,
                              9>
      kSynopses = {
          {{"publish", "dipwire publish FILE|- [--batch N]"},
           {"subscribe",
            "dipwire subscribe [--filter EXPR] "
            "[--from earliest|latest|CURSOR|RFC3339-TIME] [--output text|json] "
            "[--heartbeat DURATION] [--limit N] [--subscription NAME] "
            "[--no-reconnect]"},
           {"subscriptions",
            "dipwire subscriptions list [--output text|json] | "
            "dipwire subscriptions delete NAME"},
           {"sinks",
            "dipwire sinks list [--output text|json] | "
            "dipwire sinks dead-letters NAME [--output text|json] | "
            "dipwire sinks redeliver NAME"},
           {"alerts",
            "dipwire alerts [--filter EXPR] [--output text|json] [--limit N]"},
           {"events",
            "dipwire events [--filter EXPR] [--output text|json] [--limit N]"},
           {"health", "dipwire health [--service NAME]"},
           {"tokens",
            "dipwire tokens new NAME --roles publish|subscribe|admin[,...]"},
           {"help", "dipwire help"}}};
  std::string text;
  for (const auto& [name, synopsis] : kSynopses) {
    if (command == name) return absl::StrCat("usage: ", synopsis, "\n");
    absl::StrAppend(&text, text.empty() ? "usage: " : "       ", synopsis,
                    "\n");
  }
  return text;
}

// `tokens new NAME --roles ROLE,...`: validated by CheckTokens.
int RunTokens(const Args& args, std::ostream& out, std::ostream& err) {
  const std::string& name = args.positional[1];
  std::vector<std::string> roles;
  for (const absl::string_view role :
       absl::StrSplit(*FindFlag(args, "roles"), ',')) {
    roles.push_back(absl::AsciiStrToUpper(role));
  }
  absl::StatusOr<std::string> token = NewToken();
  if (!token.ok()) {
    err << "error: " << token.status().message() << "\n";
    return 1;
  }
  out << *token << "\n";
  out << "tokens { name: \"" << name << "\" sha256: \"" << Sha256Hex(*token)
      << "\" roles: [" << absl::StrJoin(roles, ", ") << "] }\n";
  out.flush();
  err << "The first line is the token, shown only this once: give it to \""
      << name
      << "\" (as DIPWIRE_TOKEN) and keep it secret. Add the second line to "
         "the auth section of dipwired's config file (text format) or its "
         "tokens_file; the server keeps only the SHA-256.\n";
  err.flush();
  return 0;
}

// Prints a usage error: what is wrong, the synopsis of the command (of all
// commands when it is not known) and where the details are.
int UsageError(std::ostream& err, absl::string_view command,
               absl::string_view message) {
  err << "error: " << message << "\n"
      << Synopsis(command)
      << "Every command also takes --server HOST:PORT, --timeout DURATION, "
         "--tls-ca PEM, --tls-cert PEM, --tls-key PEM, --tls-server-name "
         "NAME, --token TOKEN and --plaintext-token. Run "
         "\"dipwire help\" for details.\n";
  err.flush();
  return 2;
}

}  // namespace

int RunCli(int argc, char** argv, std::istream& in, std::ostream& out,
           std::ostream& err) {
  absl::StatusOr<Args> args = SplitArgs(argc, argv);
  if (!args.ok()) return UsageError(err, "", args.status().message());
  if (args->help || args->command == "help") {
    out << kUsage;
    out.flush();
    return 0;
  }
  if (args->command.empty()) return UsageError(err, "", "no command given");
  if (const absl::Status checked = CheckCommand(*args); !checked.ok()) {
    return UsageError(err, args->command, checked.message());
  }
  // Every flag value was checked above, so the commands read them with *.
  if (args->command == "publish") return RunPublish(*args, in, out, err);
  if (args->command == "subscribe") return RunSubscribe(*args, out, err);
  if (args->command == "alerts") return RunAlerts(*args, out, err);
  if (args->command == "subscriptions") {
    return RunSubscriptions(*args, out, err);
  }
  if (args->command == "sinks") return RunSinks(*args, out, err);
  if (args->command == "health") return RunHealth(*args, out, err);
  if (args->command == "tokens") return RunTokens(*args, out, err);
  return RunEvents(*args, out, err);
}

bool InterruptCli() {
  absl::MutexLock lock(&interrupt_mu);
  if (!subscribe_running) return false;
  subscribe_interrupted = true;
  if (subscribe_stream != nullptr) subscribe_stream->Cancel();
  return true;
}

absl::StatusOr<v1::SubscribeRequest> ParseFrom(absl::string_view from) {
  v1::SubscribeRequest request;
  const absl::string_view value = absl::StripAsciiWhitespace(from);
  if (value.empty()) {
    return absl::InvalidArgumentError(
        "--from needs earliest, latest, a cursor or an RFC 3339 time such as "
        "2024-04-01T09:00:00Z");
  }
  if (absl::EqualsIgnoreCase(value, "earliest")) {
    request.set_position(v1::SubscribeRequest::EARLIEST);
    return request;
  }
  if (absl::EqualsIgnoreCase(value, "latest")) {
    request.set_position(v1::SubscribeRequest::LATEST);
    return request;
  }
  absl::Time time;
  std::string parse_error;
  if (absl::ParseTime(absl::RFC3339_full, value, &time, &parse_error)) {
    // google.protobuf.Timestamp covers 0001-01-01 to 9999-12-31 UTC.
    constexpr int64_t kMinSeconds = -62135596800;
    constexpr int64_t kMaxSeconds = 253402300799;
    const int64_t seconds = absl::ToUnixSeconds(time);
    if (seconds < kMinSeconds || seconds > kMaxSeconds) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--from ", value, ": the time is outside years 0001..9999"));
    }
    request.mutable_start_time()->set_seconds(seconds);
    request.mutable_start_time()->set_nanos(static_cast<int32_t>(
        (time - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
    return request;
  }
  request.set_after_cursor(std::string(value));
  return request;
}

std::string FormatAlertLine(const v1::Alert& alert) {
  return absl::StrFormat(
      "%s %-6s %s %s",
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", ToAbslTime(alert.created_at()),
                       absl::UTCTimeZone()),
      EnumName(v1::Alert::Severity_descriptor(), alert.severity()),
      EnumName(v1::Alert::Type_descriptor(), alert.type()),
      OneLine(alert.headline()));
}

std::string FormatEventLine(const v1::DiplomaticEvent& event,
                            uint64_t sequence) {
  const std::string date =
      event.has_occurred_at()
          ? absl::FormatTime("%Y-%m-%d", ToAbslTime(event.occurred_at()),
                             absl::UTCTimeZone())
          : "-";
  const std::string description =
      event.summary().empty() ? DescribeEvent(event) : OneLine(event.summary());
  return absl::StrCat("seq=", sequence, " ", event.event_id(), " ",
                      KindName(event), " ", date, " ", description);
}

}  // namespace dipwire::client
