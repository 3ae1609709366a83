#ifndef DIPWIRE_SERVER_SERVER_CONFIG_H_
#define DIPWIRE_SERVER_SERVER_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dipwire/v1/config.pb.h"
#include "server/auth.h"
#include "server/filter.h"

namespace dipwire::server {

struct ServerOptions;  // server/server.h

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

// TLS on the gRPC port: PEM files. Empty cert_file: plaintext.
struct TlsFiles {
  std::string cert_file;
  std::string key_file;
  // Set: clients must present a certificate signed by one of these CAs.
  std::string client_ca_file;
};

// Checks the tokens of `auth` and of its tokens_file (read and parsed like
// the config file, as a TokenList): names (1-64 of A-Z a-z 0-9 . _ -,
// unique), sha256 (64 lower-case hex digits, unique), roles (at least one,
// none unspecified), publish_rate (events_per_second positive and finite,
// burst >= 0; 0 gives one second's worth, at least 1). Returns
// INVALID_ARGUMENT naming the field, e.g. "auth.tokens[1].sha256: ...";
// tokens of the file are named "auth.tokens_file[i]". Blocks when reading
// the file.
absl::StatusOr<std::vector<TokenSpec>> TokenSpecs(const v1::AuthConfig& auth);

// Applies every field of `config` but `sinks` to `options` (a field left
// unset or 0 keeps what `options` holds): listen, data_dir, tls, the
// tokens of auth (see TokenSpecs), insecure_listen, metrics_listen,
// retention (each field checked like its flag: ParseRetentionSpec,
// ParseRetentionInterval) and limits (each checked like its --max-... flag).
// Returns INVALID_ARGUMENT naming the field, e.g. "limits.max_streams: ...".
// `options` may be partly changed on error.
absl::Status ApplyServerConfig(const v1::ServerConfig& config,
                               ServerOptions* options);

// Checks what the config file and the flags do only together: the TLS
// files (a cert needs a key and the reverse, a client CA needs a cert;
// each file readable PEM) and the listen address, which must be loopback
// (127.0.0.0/8, ::1, localhost) unless authentication is configured
// (tokens, or client certificates) or insecure_listen is set, and, with
// tokens, also unless TLS is on (tokens must not cross a network in
// plaintext) or insecure_listen is set. Returns
// INVALID_ARGUMENT naming the flag and its config field. Blocks on
// reading the files.
absl::Status CheckServerOptions(const ServerOptions& options);

// An address to listen on: "HOST:PORT", or "[IPV6]:PORT".
struct ListenAddress {
  std::string host;       // as written, brackets included ("[::1]")
  std::string bare_host;  // without them ("::1"), for getaddrinfo
  int port = 0;
};

// Parses `address`, the value of the flag `name` (e.g. "--listen
// (listen)"). INVALID_ARGUMENT naming the flag unless it is HOST:PORT with a
// PORT of 0..65535 and, when HOST is an IPv6 address, the brackets (gRPC
// would read "::1:80" as one address). The one parser of listen addresses:
// the server, its checks and the metrics endpoint agree on what is valid.
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view address,
                                                 absl::string_view name);

// "urn:dipwire:" + this machine's host name (DESIGN.md, "Webhooks").
std::string DefaultCloudEventSource();

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_SERVER_CONFIG_H_
