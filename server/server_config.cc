#include "server/server_config.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/file_contents.h"
#include "common/net.h"
#include "common/status_macros.h"
#include "common/token.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/message.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "server/limits.h"
#include "server/server.h"
#include "server/webhook.h"

namespace dipwire::server {
namespace {

constexpr size_t kMaxSinkName = 64;
constexpr size_t kSha256HexLength = 64;
constexpr int kMaxAttempts = 100;
constexpr absl::Duration kMaxTimeout = absl::Minutes(5);

// Collects the text format parser's first error as "line L, column C: ...".
class FirstErrorCollector final : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (!error_.empty()) return;
    // The parser counts from 0.
    error_ =
        absl::StrCat("line ", line + 1, ", column ", column + 1, ": ", message);
  }
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  std::string error_;
};

bool LooksLikeJson(absl::string_view name, absl::string_view text) {
  if (absl::EndsWithIgnoreCase(name, ".json")) return true;
  for (const absl::string_view ending : {".textproto", ".txtpb", ".pbtxt"}) {
    if (absl::EndsWithIgnoreCase(name, ending)) return false;
  }
  return absl::StartsWith(absl::StripLeadingAsciiWhitespace(text), "{");
}

// Parses `text` into `message` (see ParseServerConfig for the format
// rules); the error names the message type.
absl::Status ParseConfigMessage(absl::string_view text,
                                absl::string_view file_name,
                                google::protobuf::Message* message) {
  const std::string& type = message->GetDescriptor()->name();
  if (LooksLikeJson(file_name, text)) {
    const auto status = google::protobuf::util::JsonStringToMessage(
        std::string(text), message, google::protobuf::util::JsonParseOptions());
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "not a ", type, " in JSON: ", std::string(status.message())));
    }
    return absl::OkStatus();
  }
  google::protobuf::TextFormat::Parser parser;
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), message)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a ", type, " in text format: ", errors.error()));
  }
  return absl::OkStatus();
}

// Reads the file at `path` into `message`; errors start with the path.
absl::Status ReadConfigMessage(const std::string& path,
                               google::protobuf::Message* message) {
  DIPWIRE_ASSIGN_OR_RETURN(const std::string text, ReadFileContents(path));
  const absl::Status parsed = ParseConfigMessage(text, path, message);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", parsed.message()));
  }
  return absl::OkStatus();
}

absl::Status CheckName(absl::string_view name, absl::string_view field) {
  const bool valid =
      !name.empty() && name.size() <= kMaxSinkName && name.front() != '_' &&
      std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '_' || c == '-';
      });
  if (valid) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": \"", absl::CHexEscape(name),
      "\" is not a sink name (1 to 64 of a-z, 0-9, '.', '_', '-'; not "
      "starting with '_')"));
}

absl::Status CheckUrl(absl::string_view url, absl::string_view field) {
  absl::string_view rest = url;
  const bool scheme = absl::ConsumePrefix(&rest, "http://") ||
                      absl::ConsumePrefix(&rest, "https://");
  const size_t host_end = rest.find_first_of("/?#");
  const absl::string_view host = rest.substr(0, host_end);
  const bool clean = std::none_of(url.begin(), url.end(), [](char c) {
    return static_cast<unsigned char>(c) <= ' ' || c == 0x7f;
  });
  if (scheme && clean && !host.empty() && host.back() != '@') {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": \"", absl::CHexEscape(RedactUrl(url)),
                   "\" is not an http:// or https:// URL with a host"));
}

// A Duration field: unset or zero gives `default_value`.
absl::StatusOr<absl::Duration> DurationField(
    bool has, const google::protobuf::Duration& d, absl::Duration default_value,
    absl::string_view field) {
  if (!has || (d.seconds() == 0 && d.nanos() == 0)) return default_value;
  if (d.seconds() < 0 || d.nanos() < 0 || d.nanos() > 999999999) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be a positive duration"));
  }
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// The `retention` section: each field set is checked like its flag.
absl::Status ApplyRetentionConfig(const v1::ServerConfig& config,
                                  ServerOptions* options) {
  const v1::RetentionConfig& retention = config.retention();
  if (!retention.events().empty()) {
    DIPWIRE_ASSIGN_OR_RETURN(
        options->retention.events,
        ParseRetentionSpec(retention.events(), "retention.events"));
  }
  if (!retention.alerts().empty()) {
    DIPWIRE_ASSIGN_OR_RETURN(
        options->retention.alerts,
        ParseRetentionSpec(retention.alerts(), "retention.alerts"));
  }
  if (retention.has_interval()) {
    DIPWIRE_ASSIGN_OR_RETURN(
        const absl::Duration interval,
        DurationField(true, retention.interval(), absl::ZeroDuration(),
                      "retention.interval"));
    DIPWIRE_ASSIGN_OR_RETURN(
        options->retention.interval,
        ParseRetentionInterval(absl::FormatDuration(interval),
                               "retention.interval"));
  }
  return absl::OkStatus();
}

// The configured secret's text, from wherever it is.
absl::StatusOr<std::string> SecretText(const v1::SinkConfig& sink,
                                       absl::string_view field) {
  const int sources = (sink.secret().empty() ? 0 : 1) +
                      (sink.secret_env().empty() ? 0 : 1) +
                      (sink.secret_file().empty() ? 0 : 1);
  if (sources > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(field,
                     ".secret: set at most one of secret, secret_env "
                     "and secret_file"));
  }
  if (!sink.secret_env().empty()) {
    // Read once, at start-up, before any thread of ours could call setenv.
    const char* value = std::getenv(  // NOLINT(concurrency-mt-unsafe)
        sink.secret_env().c_str());
    if (value == nullptr || *value == '\0') {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".secret_env: the environment variable ",
                       sink.secret_env(), " is not set"));
    }
    return std::string(absl::StripAsciiWhitespace(value));
  }
  if (!sink.secret_file().empty()) {
    absl::StatusOr<std::string> contents = ReadFileContents(sink.secret_file());
    if (!contents.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".secret_file: cannot read ", sink.secret_file()));
    }
    return std::string(absl::StripAsciiWhitespace(*contents));
  }
  return sink.secret();
}

absl::StatusOr<SinkSpec> CheckSink(const v1::SinkConfig& sink,
                                   absl::string_view field,
                                   absl::string_view default_source,
                                   const FilterLimits& filter_limits) {
  SinkSpec spec;
  absl::Status status = CheckName(sink.name(), absl::StrCat(field, ".name"));
  if (!status.ok()) return status;
  spec.name = sink.name();
  status = CheckUrl(sink.url(), absl::StrCat(field, ".url"));
  if (!status.ok()) return status;
  spec.url = sink.url();
  absl::StatusOr<Filter> filter =
      Filter::Compile(sink.filter(), FilterTarget::kAlert, filter_limits);
  if (!filter.ok()) {
    absl::string_view message = filter.status().message();
    absl::ConsumePrefix(&message, "filter: ");
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".filter: ", message));
  }
  spec.filter_text = sink.filter();
  spec.filter = *std::move(filter);
  switch (sink.format()) {
    case v1::SinkConfig::FORMAT_UNSPECIFIED:
    case v1::SinkConfig::CLOUDEVENTS:
      spec.format = v1::SinkConfig::CLOUDEVENTS;
      break;
    case v1::SinkConfig::SLACK:
      spec.format = v1::SinkConfig::SLACK;
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".format: ", sink.format(), " is not CLOUDEVENTS or SLACK"));
  }
  absl::StatusOr<std::string> secret = SecretText(sink, field);
  if (!secret.ok()) return secret.status();
  if (!secret->empty()) {
    absl::StatusOr<std::string> key = DecodeWebhookSecret(*secret);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".secret: ", key.status().message()));
    }
    spec.key = *std::move(key);
  }
  if (sink.max_attempts() < 0 || sink.max_attempts() > kMaxAttempts) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".max_attempts: ", sink.max_attempts(),
                     " is not in 1..", kMaxAttempts, " (0: the default, 8)"));
  }
  if (sink.max_attempts() > 0) spec.max_attempts = sink.max_attempts();
  absl::StatusOr<absl::Duration> duration =
      DurationField(sink.has_timeout(), sink.timeout(), spec.timeout,
                    absl::StrCat(field, ".timeout"));
  if (!duration.ok()) return duration.status();
  if (*duration > kMaxTimeout) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".timeout: ", absl::FormatDuration(*duration),
                     " is longer than ", absl::FormatDuration(kMaxTimeout)));
  }
  spec.timeout = *duration;
  duration = DurationField(sink.has_initial_backoff(), sink.initial_backoff(),
                           spec.initial_backoff,
                           absl::StrCat(field, ".initial_backoff"));
  if (!duration.ok()) return duration.status();
  spec.initial_backoff = *duration;
  duration =
      DurationField(sink.has_max_backoff(), sink.max_backoff(),
                    spec.max_backoff, absl::StrCat(field, ".max_backoff"));
  if (!duration.ok()) return duration.status();
  spec.max_backoff = *duration;
  if (spec.initial_backoff > spec.max_backoff) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".initial_backoff: ", absl::FormatDuration(spec.initial_backoff),
        " is longer than max_backoff (", absl::FormatDuration(spec.max_backoff),
        ")"));
  }
  spec.source =
      sink.source().empty() ? std::string(default_source) : sink.source();
  switch (sink.start()) {
    case v1::SinkConfig::START_UNSPECIFIED:
    case v1::SinkConfig::LATEST:
      break;
    case v1::SinkConfig::EARLIEST:
      spec.start_earliest = true;
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".start: ", sink.start(), " is not LATEST or EARLIEST"));
  }
  return spec;
}

absl::StatusOr<TokenSpec> CheckToken(const v1::TokenConfig& token,
                                     const std::string& field) {
  TokenSpec spec;
  const absl::string_view name = token.name();
  if (!IsTokenName(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".name: \"", absl::CHexEscape(name),
        "\" is not a token name (1 to 64 of A-Z, a-z, 0-9, '.', '_', '-')"));
  }
  spec.name = token.name();
  const absl::string_view hex = token.sha256();
  const bool hex_ok = hex.size() == kSha256HexLength &&
                      std::all_of(hex.begin(), hex.end(), [](char c) {
                        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                      });
  if (!hex_ok) {
    // Never echoed: a token pasted here by mistake must not reach a log.
    return absl::InvalidArgumentError(absl::StrCat(
        field,
        ".sha256: not 64 lower-case hex digits (the SHA-256 of the token, "
        "as `dipwire tokens new` prints it; never the token itself)"));
  }
  spec.sha256 = absl::HexStringToBytes(hex);
  if (token.roles().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".roles: at least one of PUBLISH, SUBSCRIBE, ADMIN"));
  }
  for (int i = 0; i < token.roles_size(); ++i) {
    switch (token.roles(i)) {
      case v1::TokenConfig::PUBLISH:
        spec.roles.push_back(Role::kPublish);
        break;
      case v1::TokenConfig::SUBSCRIBE:
        spec.roles.push_back(Role::kSubscribe);
        break;
      case v1::TokenConfig::ADMIN:
        spec.roles.push_back(Role::kAdmin);
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat(field, ".roles[", i, "]: ", token.roles(i),
                         " is not PUBLISH, SUBSCRIBE or ADMIN"));
    }
  }
  if (token.has_publish_rate()) {
    const v1::PublishRate& rate = token.publish_rate();
    if (!(rate.events_per_second() > 0) ||
        std::isinf(rate.events_per_second())) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".publish_rate.events_per_second: ", rate.events_per_second(),
          " is not a positive number"));
    }
    if (rate.burst() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".publish_rate.burst: ", rate.burst(),
                       " is negative (0: one second's worth)"));
    }
    spec.publish_events_per_second = rate.events_per_second();
    spec.publish_burst =
        rate.burst() > 0
            ? rate.burst()
            : std::max<int64_t>(
                  1, static_cast<int64_t>(std::ceil(
                         std::min(rate.events_per_second(),
                                  static_cast<double>(
                                      std::numeric_limits<int32_t>::max())))));
  }
  return spec;
}

// The PEM file `path`, named by `name` in errors, as an OpenSSL BIO.
absl::StatusOr<std::unique_ptr<BIO, decltype(&BIO_free)>> PemFile(
    const std::string& path, absl::string_view name, std::string* text) {
  absl::StatusOr<std::string> read = ReadFileContents(path);
  if (!read.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": ", read.status().message()));
  }
  *text = *std::move(read);
  return std::unique_ptr<BIO, decltype(&BIO_free)>(
      BIO_new_mem_buf(text->data(), static_cast<int>(text->size())), &BIO_free);
}

// Checks that the TLS files hold what gRPC will need: a PEM certificate, a
// PEM private key that is that certificate's, and at least one PEM CA
// certificate; so --check-config fails where the server would.
absl::Status CheckTlsFiles(const TlsFiles& tls) {
  using Certificate = std::unique_ptr<X509, decltype(&X509_free)>;
  using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
  constexpr absl::string_view kCert = "--tls-cert (tls.cert_file)";
  constexpr absl::string_view kKey = "--tls-key (tls.key_file)";
  constexpr absl::string_view kCa = "--tls-client-ca (tls.client_ca_file)";
  // OpenSSL queues an error for each failed read: leave none behind.
  const absl::Cleanup clear = [] { ERR_clear_error(); };
  std::string text;
  if (!tls.cert_file.empty()) {
    DIPWIRE_ASSIGN_OR_RETURN(auto bio, PemFile(tls.cert_file, kCert, &text));
    const Certificate cert(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
    if (cert == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          kCert, ": ", tls.cert_file, " holds no PEM certificate"));
    }
    std::string key_text;
    DIPWIRE_ASSIGN_OR_RETURN(auto key_bio,
                             PemFile(tls.key_file, kKey, &key_text));
    const Key key(
        PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr),
        &EVP_PKEY_free);
    if (key == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(kKey, ": ", tls.key_file, " holds no PEM private key"));
    }
    if (X509_check_private_key(cert.get(), key.get()) != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          kKey, ": ", tls.key_file, " is not the key of the certificate in ",
          tls.cert_file));
    }
  }
  if (!tls.client_ca_file.empty()) {
    DIPWIRE_ASSIGN_OR_RETURN(auto bio, PemFile(tls.client_ca_file, kCa, &text));
    const Certificate ca(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
    if (ca == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          kCa, ": ", tls.client_ca_file, " holds no PEM certificate"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::ServerConfig> ParseServerConfig(
    absl::string_view text, absl::string_view file_name) {
  v1::ServerConfig config;
  DIPWIRE_RETURN_IF_ERROR(ParseConfigMessage(text, file_name, &config));
  return config;
}

absl::StatusOr<v1::ServerConfig> ReadServerConfig(const std::string& path) {
  v1::ServerConfig config;
  DIPWIRE_RETURN_IF_ERROR(ReadConfigMessage(path, &config));
  return config;
}

absl::StatusOr<std::vector<SinkSpec>> SinkSpecs(
    const v1::ServerConfig& config, absl::string_view default_source,
    const FilterLimits& filter_limits) {
  std::vector<SinkSpec> specs;
  absl::flat_hash_set<std::string> names;
  for (int i = 0; i < config.sinks_size(); ++i) {
    const std::string field = absl::StrCat("sinks[", i, "]");
    absl::StatusOr<SinkSpec> spec =
        CheckSink(config.sinks(i), field, default_source, filter_limits);
    if (!spec.ok()) return spec.status();
    if (!names.insert(spec->name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".name: \"", spec->name, "\" is used by an earlier sink"));
    }
    specs.push_back(*std::move(spec));
  }
  return specs;
}

absl::StatusOr<std::vector<TokenSpec>> TokenSpecs(const v1::AuthConfig& auth) {
  v1::TokenList from_file;
  if (!auth.tokens_file().empty()) {
    const absl::Status read = ReadConfigMessage(auth.tokens_file(), &from_file);
    if (!read.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("auth.tokens_file: ", read.message()));
    }
  }
  std::vector<TokenSpec> specs;
  absl::flat_hash_set<std::string> names;
  absl::flat_hash_set<std::string> hashes;
  const auto add = [&](const v1::TokenConfig& token,
                       const std::string& field) -> absl::Status {
    DIPWIRE_ASSIGN_OR_RETURN(TokenSpec spec, CheckToken(token, field));
    if (!names.insert(spec.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".name: \"", spec.name, "\" is used by an earlier token"));
    }
    if (!hashes.insert(spec.sha256).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".sha256: the same token as an earlier one"));
    }
    specs.push_back(std::move(spec));
    return absl::OkStatus();
  };
  for (int i = 0; i < auth.tokens_size(); ++i) {
    DIPWIRE_RETURN_IF_ERROR(
        add(auth.tokens(i), absl::StrCat("auth.tokens[", i, "]")));
  }
  for (int i = 0; i < from_file.tokens_size(); ++i) {
    DIPWIRE_RETURN_IF_ERROR(
        add(from_file.tokens(i), absl::StrCat("auth.tokens_file[", i, "]")));
  }
  return specs;
}

absl::Status ApplyServerConfig(const v1::ServerConfig& config,
                               ServerOptions* options) {
  if (!config.listen().empty()) options->listen = config.listen();
  if (!config.data_dir().empty()) options->data_dir = config.data_dir();
  if (!config.tls().cert_file().empty()) {
    options->tls.cert_file = config.tls().cert_file();
  }
  if (!config.tls().key_file().empty()) {
    options->tls.key_file = config.tls().key_file();
  }
  if (!config.tls().client_ca_file().empty()) {
    options->tls.client_ca_file = config.tls().client_ca_file();
  }
  DIPWIRE_ASSIGN_OR_RETURN(options->tokens, TokenSpecs(config.auth()));
  if (config.insecure_listen()) options->insecure_listen = true;
  if (!config.metrics_listen().empty()) {
    options->metrics_listen = config.metrics_listen();
  }
  DIPWIRE_RETURN_IF_ERROR(ApplyRetentionConfig(config, options));
  // One LimitsConfig field per limit flag: "--max-streams" is max_streams.
  const google::protobuf::Reflection* reflection =
      v1::LimitsConfig::GetReflection();
  const google::protobuf::Descriptor* descriptor =
      v1::LimitsConfig::descriptor();
  for (const LimitFlag& flag : LimitFlags()) {
    std::string name(absl::StripPrefix(flag.name, "--"));
    std::replace(name.begin(), name.end(), '-', '_');
    const google::protobuf::FieldDescriptor* field =
        descriptor->FindFieldByName(name);
    if (field == nullptr) {
      return absl::InternalError(
          absl::StrCat("LimitsConfig has no field ", name));
    }
    const int64_t value = reflection->GetInt64(config.limits(), field);
    if (value == 0) continue;
    const absl::Status set =
        SetLimitFlag(flag, absl::StrCat(value), &options->limits);
    if (!set.ok()) {
      absl::string_view message = set.message();
      absl::ConsumePrefix(&message, flag.name);
      return absl::InvalidArgumentError(absl::StrCat("limits.", name, message));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckServerOptions(const ServerOptions& options) {
  const TlsFiles& tls = options.tls;
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert (tls.cert_file) and --tls-key (tls.key_file) go "
        "together: set both or neither");
  }
  if (!tls.client_ca_file.empty() && tls.cert_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls-client-ca (tls.client_ca_file) needs --tls-cert and "
        "--tls-key: client certificates are checked only over TLS");
  }
  DIPWIRE_RETURN_IF_ERROR(CheckTlsFiles(tls));
  if (!options.metrics_listen.empty()) {
    DIPWIRE_RETURN_IF_ERROR(
        ParseListenAddress(options.metrics_listen,
                           "--metrics-listen (metrics_listen)")
            .status());
  }
  DIPWIRE_ASSIGN_OR_RETURN(
      const ListenAddress listen,
      ParseListenAddress(options.listen, "--listen (listen)"));
  const bool authenticated =
      !options.tokens.empty() || !tls.client_ca_file.empty();
  const absl::string_view host = listen.bare_host;
  if (!options.tokens.empty() && tls.cert_file.empty() &&
      !options.insecure_listen && !IsLoopbackHost(host)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen (listen): refusing to take bearer tokens in plaintext on ",
        options.listen,
        ": anyone on the network could read and replay them. Serve TLS "
        "(--tls-cert and --tls-key), listen on a loopback address, or pass "
        "--insecure-listen (insecure_listen: true) if something in front of "
        "dipwired terminates TLS"));
  }
  if (!authenticated && !options.insecure_listen && !IsLoopbackHost(host)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen (listen): refusing to serve ", options.listen,
        " without authentication: anyone who can reach it could publish "
        "and read everything. Configure tokens (auth) or client "
        "certificates (--tls-client-ca), listen on a loopback address, or "
        "pass --insecure-listen (insecure_listen: true) if something in "
        "front of dipwired authenticates its clients"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view address,
                                                 absl::string_view name) {
  const auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": \"", address, "\" is not HOST:PORT (", why,
                     "; e.g. 127.0.0.1:50051 or [::1]:50051)"));
  };
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return invalid("no HOST before a ':'");
  }
  ListenAddress parsed;
  const absl::string_view port = address.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(port, &parsed.port) || parsed.port > 65535) {
    return invalid("PORT is not a number from 0 to 65535");
  }
  parsed.host = std::string(address.substr(0, colon));
  absl::string_view bare = parsed.host;
  if (absl::ConsumePrefix(&bare, "[")) {
    if (!absl::ConsumeSuffix(&bare, "]") || bare.empty()) {
      return invalid("an unclosed or empty [");
    }
  } else if (absl::StrContains(bare, ':')) {
    return invalid("an IPv6 HOST needs brackets");
  }
  if (absl::StrContains(bare, '[') || absl::StrContains(bare, ']')) {
    return invalid("a stray bracket");
  }
  parsed.bare_host = std::string(bare);
  return parsed;
}

std::string DefaultCloudEventSource() {
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) != 0 || host[0] == '\0') {
    return "urn:dipwire:localhost";
  }
  return absl::StrCat("urn:dipwire:", host.data());
}

}  // namespace dipwire::server
