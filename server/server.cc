#include "server/server.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/file_contents.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/alert_hub.h"
#include "server/alert_service.h"
#include "server/auth.h"
#include "server/call_log.h"
#include "server/executor.h"
#include "server/metrics.h"
#include "server/publish_pipeline.h"
#include "server/reflection_service.h"
#include "server/retention.h"
#include "server/sqlite_event_store.h"
#include "server/webhook_sinks.h"

namespace dipwire::server {
namespace {

// Threads for listings (store reads off the reaction threads).
constexpr int kListingThreads = 2;

// The size of the store's database and write-ahead log in `data_dir`.
uint64_t StoreBytes(const std::string& data_dir) {
  const std::filesystem::path db = std::filesystem::path(data_dir) /
                                   std::string(SqliteEventStore::kFileName);
  uint64_t bytes = 0;
  for (const std::filesystem::path& file :
       {db, std::filesystem::path(db.string() + "-wal")}) {
    std::error_code error;
    const uintmax_t size = std::filesystem::file_size(file, error);
    if (!error) bytes += size;
  }
  return bytes;
}

// Plaintext, or TLS from `tls`'s PEM files, with client certificates
// required and verified when a client CA is set. gRPC checks that the key
// matches the certificate only when the port is bound (Start reports that
// as UNAVAILABLE).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const TlsFiles& tls) {
  if (tls.cert_file.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl(
      tls.client_ca_file.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  DIPWIRE_ASSIGN_OR_RETURN(pair.cert_chain, ReadFileContents(tls.cert_file));
  DIPWIRE_ASSIGN_OR_RETURN(pair.private_key, ReadFileContents(tls.key_file));
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!tls.client_ca_file.empty()) {
    DIPWIRE_ASSIGN_OR_RETURN(ssl.pem_root_certs,
                             ReadFileContents(tls.client_ca_file));
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

class Server::Impl {
 public:
  absl::Status Start(const ServerOptions& options) {
    DIPWIRE_ASSIGN_OR_RETURN(const ListenAddress listen,
                             ParseListenAddress(options.listen, "--listen"));
    host_ = listen.host;
    DIPWIRE_RETURN_IF_ERROR(CheckServerOptions(options));
    DIPWIRE_ASSIGN_OR_RETURN(
        std::shared_ptr<grpc::ServerCredentials> credentials,
        ServerCredentials(options.tls));
    SqliteEventStoreOptions store_options;
    store_options.data_dir = options.data_dir;
    DIPWIRE_ASSIGN_OR_RETURN(store_, SqliteEventStore::Open(store_options));
    const Limits& limits = options.limits;
    AlertHubOptions hub_options;
    hub_options.max_streams = static_cast<size_t>(limits.max_streams);
    hub_ = std::make_unique<AlertHub>(store_.get(), Clock::Real(), hub_options);
    DIPWIRE_RETURN_IF_ERROR(hub_->Start());
    PublishPipelineOptions pipeline_options;
    pipeline_options.max_pending_events = limits.max_pending_events;
    pipeline_options.max_pending_bytes = limits.max_pending_bytes;
    DIPWIRE_ASSIGN_OR_RETURN(
        pipeline_, PublishPipeline::Start(store_.get(), hub_.get(),
                                          Clock::Real(), pipeline_options));
    replayed_events_ = pipeline_->replayed_events();
    if (options.retention.enabled()) {
      retention_ = Retention::Start(options.retention, store_.get(), hub_.get(),
                                    pipeline_.get(), Clock::Real());
    }
    // After the replay, so that a new sink starting at LATEST starts at the
    // head of the log.
    DIPWIRE_ASSIGN_OR_RETURN(
        sinks_, WebhookSinks::Start(options.sinks, store_.get(), hub_.get(),
                                    Clock::Real()));
    executor_ = std::make_unique<Executor>(kListingThreads);
    if (!options.tokens.empty()) {
      auth_ = std::make_unique<Authenticator>(options.tokens, Clock::Real());
    }
    service_ = std::make_unique<AlertServiceImpl>(
        pipeline_.get(), hub_.get(), store_.get(), executor_.get(),
        Clock::Real(), limits, sinks_.get(), auth_.get());

    // grpc.health.v1 (gRPC's own service, without a token) and
    // grpc.reflection.v1alpha (our own, which checks the token: gRPC's
    // plugin cannot), so that probes and grpcurl need no .proto file.
    // Health answers only once the store is open and the log replayed: the
    // server starts below.
    grpc::EnableDefaultHealthCheckService(true);
    reflection_ = std::make_unique<ReflectionService>(
        std::vector<std::string>{
            std::string(v1::AlertService::service_full_name()),
            "grpc.health.v1.Health",
            std::string(grpc::reflection::v1alpha::ServerReflection::
                            service_full_name())},
        auth_.get());
    grpc::ServerBuilder builder;
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(std::make_unique<CallLogFactory>(auth_.get()));
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
    builder.AddListeningPort(options.listen, credentials, &port_);
    builder.RegisterService(service_.get());
    builder.RegisterService(reflection_.get());
    // gRPC refuses a larger request itself, with RESOURCE_EXHAUSTED.
    builder.SetMaxReceiveMessageSize(limits.max_message_bytes);
    // Notice dead peers on long-lived streams.
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60 * 1000);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
    builder.AddChannelArgument(
        GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10 * 1000);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port_ == 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", options.listen,
                       " (address in use or not available here",
                       options.tls.cert_file.empty()
                           ? ")"
                           : ", or --tls-key is not the key of --tls-cert)"));
    }
    // The overall status ("") is SERVING from the start.
    server_->GetHealthCheckService()->SetServingStatus(
        v1::AlertService::service_full_name(), true);
    if (!options.metrics_listen.empty()) {
      DIPWIRE_ASSIGN_OR_RETURN(
          metrics_,
          MetricsHttpServer::Start(
              options.metrics_listen, [this, data_dir = options.data_dir] {
                return RenderMetrics(GlobalMetrics(), ScrapeGauges(data_dir));
              }));
    }
    return absl::OkStatus();
  }

  void Shutdown(absl::Duration deadline) {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
    // First, so that probes and load balancers stop sending calls while
    // the streams end and the publishes in flight drain.
    if (server_ != nullptr) {
      server_->GetHealthCheckService()->SetServingStatus(false);
    }
    if (hub_ != nullptr) hub_->BeginShutdown();
    if (server_ != nullptr) {
      server_->Shutdown(absl::ToChronoTime(absl::Now() + deadline));
      server_->Wait();
    }
    // Scrapes read the hub, the sinks and the store.
    if (metrics_ != nullptr) metrics_->Stop();
    // Before the pipeline, whose snapshots it may be waiting for.
    if (retention_ != nullptr) retention_->Stop();
    // Every call has finished: no more submissions or stream callbacks.
    if (pipeline_ != nullptr) pipeline_->Stop();
    // The sinks wait on the hub and read the store: before both.
    if (sinks_ != nullptr) sinks_->Stop();
    if (hub_ != nullptr) hub_->Stop();
    executor_.reset();
    server_.reset();
    service_.reset();
    reflection_.reset();
    auth_.reset();
    sinks_.reset();
    retention_.reset();
    pipeline_.reset();
    hub_.reset();
    store_.reset();
  }

  int port() const { return port_; }
  std::string metrics_address() const {
    return metrics_ == nullptr ? "" : metrics_->address();
  }
  const std::string& host() const { return host_; }
  uint64_t replayed_events() const { return replayed_events_; }

 private:
  // The gauges of a scrape, from the hub, the store's files and the sinks.
  ScrapedGauges ScrapeGauges(const std::string& data_dir) const {
    ScrapedGauges gauges;
    const AlertHub::StreamStats streams = hub_->stream_stats();
    gauges.open_streams = streams.open_streams;
    gauges.open_publish_streams =
        static_cast<uint64_t>(std::max(service_->publish_streams(), 0));
    gauges.max_subscriber_lag = streams.max_lag;
    gauges.store_bytes = StoreBytes(data_dir);
    gauges.oldest_alert_position = hub_->trimmed_through() + 1;
    if (sinks_ != nullptr) {
      absl::StatusOr<std::vector<v1::Sink>> sinks = sinks_->List();
      if (!sinks.ok()) {
        DIPWIRE_LOG(kWarning)
            << "metrics: cannot list sinks: " << sinks.status();
      }
      for (const v1::Sink& sink : sinks.value_or(std::vector<v1::Sink>{})) {
        gauges.sinks.push_back(
            {sink.name(), sink.lag(),
             static_cast<uint64_t>(std::max<int64_t>(sink.dead_letters(), 0))});
      }
    }
    return gauges;
  }

  std::string host_;
  int port_ = 0;
  uint64_t replayed_events_ = 0;
  std::unique_ptr<SqliteEventStore> store_;
  std::unique_ptr<AlertHub> hub_;
  std::unique_ptr<PublishPipeline> pipeline_;
  std::unique_ptr<WebhookSinks> sinks_;
  std::unique_ptr<Retention> retention_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<AlertServiceImpl> service_;
  std::unique_ptr<ReflectionService> reflection_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<MetricsHttpServer> metrics_;

  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const ServerOptions& options) {
  auto impl = std::make_unique<Impl>();
  absl::Status status = impl->Start(options);
  if (!status.ok()) {
    impl->Shutdown(absl::ZeroDuration());
    return status;
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Shutdown(absl::Seconds(1)); }

int Server::port() const { return impl_->port(); }

std::string Server::address() const {
  return absl::StrCat(impl_->host(), ":", impl_->port());
}

uint64_t Server::replayed_events() const { return impl_->replayed_events(); }

std::string Server::metrics_address() const { return impl_->metrics_address(); }

void Server::Shutdown(absl::Duration deadline) { impl_->Shutdown(deadline); }

}  // namespace dipwire::server
