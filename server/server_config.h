#ifndef DIPWIRE_SERVER_SERVER_CONFIG_H_
#define DIPWIRE_SERVER_SERVER_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dipwire/v1/config.pb.h"
#include "server/filter.h"

namespace dipwire::server {

// dipwired's configuration file (proto/dipwire/v1/config.proto): reading it
// and checking it. Pure functions apart from reading the file, the secret
// files and the environment; safe for concurrent use.

// One webhook sink, checked and with its defaults applied.
struct SinkSpec {
  std::string name;
  std::string url;
  // The filter as configured, and compiled.
  std::string filter_text;
  Filter filter;
  v1::SinkConfig::Format format = v1::SinkConfig::CLOUDEVENTS;
  // The decoded signing key (Standard Webhooks); empty: requests unsigned.
  std::string key;
  int max_attempts = 8;
  absl::Duration timeout = absl::Seconds(10);
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Minutes(5);
  // The CloudEvents source.
  std::string source;
  // Where the sink starts when it has no cursor yet.
  bool start_earliest = false;
};

// Parses `text`, the contents of a file named `file_name`: proto3 JSON when
// the name ends in ".json", text format for ".textproto", ".txtpb" or
// ".pbtxt", else JSON when the text starts with '{' and text format
// otherwise. Returns INVALID_ARGUMENT with the parser's message (naming the
// field or the line and column) when the text is not a ServerConfig; an
// unknown field is an error. Does not check the values (see SinkSpecs).
absl::StatusOr<v1::ServerConfig> ParseServerConfig(absl::string_view text,
                                                   absl::string_view file_name);

// Reads and parses the file at `path` (see ParseServerConfig). Returns
// INVALID_ARGUMENT when the file cannot be read or parsed; the message
// starts with the path. Blocks on file I/O.
absl::StatusOr<v1::ServerConfig> ReadServerConfig(const std::string& path);

// Checks `config`'s sinks and applies their defaults: names (as durable
// subscription names, unique), URLs (http or https with a host), filters
// (they compile under `filter_limits`), formats, secrets (at most one of
// secret, secret_env, secret_file; read from the environment or the file and
// decoded), max_attempts (0: default 8; 1..100), durations (0: the default;
// timeout at most 5 minutes; initial_backoff <= max_backoff). Returns
// INVALID_ARGUMENT naming the field, e.g. "sinks[1].url: ...", and never
// the secret. `default_source` is the CloudEvents source of sinks that set
// none. Blocks when reading a secret_file.
absl::StatusOr<std::vector<SinkSpec>> SinkSpecs(
    const v1::ServerConfig& config, absl::string_view default_source,
    const FilterLimits& filter_limits = FilterLimits());

// "urn:dipwire:" + this machine's host name (DESIGN.md, "Webhooks").
std::string DefaultCloudEventSource();

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_SERVER_CONFIG_H_
