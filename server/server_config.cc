#include "server/server_config.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "server/webhook.h"

namespace dipwire::server {
namespace {

constexpr size_t kMaxSinkName = 64;
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
    std::ifstream in(sink.secret_file(), std::ios::binary);
    std::stringstream contents;
    contents << in.rdbuf();
    if (!in) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".secret_file: cannot read ", sink.secret_file()));
    }
    return std::string(absl::StripAsciiWhitespace(contents.str()));
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

}  // namespace

absl::StatusOr<v1::ServerConfig> ParseServerConfig(
    absl::string_view text, absl::string_view file_name) {
  v1::ServerConfig config;
  if (LooksLikeJson(file_name, text)) {
    const auto status = google::protobuf::util::JsonStringToMessage(
        std::string(text), &config, google::protobuf::util::JsonParseOptions());
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "not a ServerConfig in JSON: ", std::string(status.message())));
    }
    return config;
  }
  google::protobuf::TextFormat::Parser parser;
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &config)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a ServerConfig in text format: ", errors.error()));
  }
  return config;
}

absl::StatusOr<v1::ServerConfig> ReadServerConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read"));
  }
  absl::StatusOr<v1::ServerConfig> config =
      ParseServerConfig(contents.str(), path);
  if (!config.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", config.status().message()));
  }
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

std::string DefaultCloudEventSource() {
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) != 0 || host[0] == '\0') {
    return "urn:dipwire:localhost";
  }
  return absl::StrCat("urn:dipwire:", host.data());
}

}  // namespace dipwire::server
