#include "client/client.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/file_contents.h"
#include "common/grpc_status.h"
#include "common/net.h"
#include "common/status_macros.h"
#include "dipwire/v1/alerts.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace dipwire::client {
namespace {

// Keepalive: a ping every 30 s on a connection with calls in flight, and the
// connection counts as dead when the answer takes more than 10 s. Idle
// channels do not ping (servers reject that by default). Long Subscribe
// streams are where this matters: without pings a silently dropped
// connection would keep a subscriber waiting forever.
constexpr int kKeepaliveTimeMs = 30'000;
constexpr int kKeepaliveTimeoutMs = 10'000;
// Pages of history can carry up to 1,000 alerts with their events.
constexpr int kMaxReceiveMessageBytes = 16 * 1024 * 1024;

// How many responses the reader thread of a stream may receive ahead of
// the consumer. Small: the log is the buffer, not this process.
constexpr size_t kMaxQueuedResponses = 8;

// The channel's own wait between connection attempts grows up to this (the
// gRPC default is 120 s). A resumable stream re-subscribes on its own
// schedule, but an attempt made while the channel waits fails at once; this
// keeps the channel from sleeping for minutes after a long outage while
// the server is already back.
constexpr int kMaxReconnectBackoffMs = 10'000;

std::chrono::system_clock::time_point DeadlineAfter(absl::Duration timeout) {
  return absl::ToChronoTime(absl::Now() + timeout);
}

// See ReconnectOptions in client.h for why these. CANCELLED counts only
// when this process did not cancel the stream (the caller checks).
bool IsRetryable(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable ||
         code == absl::StatusCode::kResourceExhausted ||
         code == absl::StatusCode::kCancelled;
}

absl::Status CheckReconnectOptions(const ReconnectOptions& options) {
  if (options.initial_backoff <= absl::ZeroDuration() ||
      options.initial_backoff == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("initial_backoff must be positive and finite, not ",
                     absl::FormatDuration(options.initial_backoff)));
  }
  if (options.max_backoff < options.initial_backoff ||
      options.max_backoff == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_backoff must be finite and at least initial_backoff (",
        absl::FormatDuration(options.initial_backoff), "), not ",
        absl::FormatDuration(options.max_backoff)));
  }
  if (!(options.multiplier >= 1.0) || std::isinf(options.multiplier)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "multiplier must be a finite number >= 1, not ", options.multiplier));
  }
  if (!(options.jitter >= 0.0 && options.jitter <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("jitter must be in [0, 1], not ", options.jitter));
  }
  if (options.max_attempts < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_attempts must be >= 0 (0: never give up), not ",
                     options.max_attempts));
  }
  if (options.give_up_after < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("give_up_after must be >= 0 (0: never give up), not ",
                     absl::FormatDuration(options.give_up_after)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadPemFile(const std::string& path,
                                        absl::string_view option) {
  absl::StatusOr<std::string> contents = ReadFileContents(path);
  if (!contents.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, ": cannot read ", path));
  }
  return contents;
}

// TLS is on when a CA or a client certificate is configured.
bool UsesTls(const ClientOptions& options) {
  return !options.tls_ca_file.empty() || !options.tls_cert_file.empty() ||
         !options.tls_key_file.empty();
}

// Plaintext, or TLS (UsesTls).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const ClientOptions& options) {
  if (!UsesTls(options)) return grpc::InsecureChannelCredentials();
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate (--tls-cert) and its key (--tls-key) go "
        "together: set both or neither");
  }
  grpc::SslCredentialsOptions ssl;
  if (!options.tls_ca_file.empty()) {
    DIPWIRE_ASSIGN_OR_RETURN(ssl.pem_root_certs,
                             ReadPemFile(options.tls_ca_file, "--tls-ca"));
  }
  if (!options.tls_cert_file.empty()) {
    DIPWIRE_ASSIGN_OR_RETURN(ssl.pem_cert_chain,
                             ReadPemFile(options.tls_cert_file, "--tls-cert"));
    DIPWIRE_ASSIGN_OR_RETURN(ssl.pem_private_key,
                             ReadPemFile(options.tls_key_file, "--tls-key"));
  }
  return grpc::SslCredentials(ssl);
}

// Adds "authorization: Bearer <token>" to the metadata of every call of the
// channel: one place for unary calls and both kinds of stream. Metadata
// rather than call credentials, which gRPC sends only over TLS, while a
// token also serves a plaintext loopback server.
class BearerTokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerTokenInterceptor(const std::string* authorization)
      : authorization_(authorization) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization",
                                                 *authorization_);
    }
    methods->Proceed();
  }

 private:
  const std::string* const authorization_;
};

class BearerTokenInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenInterceptorFactory(absl::string_view token)
      : authorization_(absl::StrCat("Bearer ", token)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    // gRPC owns and deletes the interceptor; the factory lives as long as
    // the channel.
    return new BearerTokenInterceptor(&authorization_);
  }

 private:
  const std::string authorization_;
};

// The status a resumable stream ends with when it gives up: the last
// retryable status, with its code, saying that it gave up.
absl::Status GaveUp(const absl::Status& last, absl::string_view why) {
  return {last.code(), absl::StrCat(last.message(), " (gave up: ", why, ")")};
}

}  // namespace

absl::Duration ReconnectDelay(const ReconnectOptions& options, int attempt,
                              double unit_random) {
  // In seconds, as doubles: multiplier^(attempt-1) overflows any integer
  // type long before it matters, and a double saturates to infinity, which
  // std::min then caps.
  const double max_seconds = absl::ToDoubleSeconds(options.max_backoff);
  const double grown = absl::ToDoubleSeconds(options.initial_backoff) *
                       std::pow(options.multiplier, std::max(0, attempt - 1));
  const double base =
      std::isnan(grown) ? max_seconds : std::min(max_seconds, grown);
  const double u = std::clamp(unit_random, 0.0, 1.0);
  return absl::Seconds(base *
                       (1.0 - options.jitter + 2.0 * options.jitter * u));
}

// Invariants:
// - The reader thread alone makes calls. Each call has its own
//   ClientContext, which lives on the reader thread's stack; `context_`
//   points at it while the call may be running (set and cleared under mu_),
//   so that Cancel can TryCancel it.
// - The reader thread pushes each response to `queue_` and, when the stream
//   is over (no more attempts), sets `finished_` and `final_status_` once.
// - `cancelled_` only goes from false to true; once set, no call starts.
// - The reader thread waits while `queue_` holds kMaxQueuedResponses.
// - `last_returned_cursor_` is the cursor of the last alert Next returned,
//   or the head_cursor of a heartbeat it returned after that (empty, with
//   `returned_position_`: before the first alert, so EARLIEST);
//   a re-subscribe clears `queue_` and starts after it, in one critical
//   section, so nothing is returned twice and nothing is skipped.
class AlertStream::Impl {
 public:
  Impl(std::shared_ptr<grpc::Channel> channel, v1::SubscribeRequest request,
       std::optional<ReconnectOptions> reconnect)
      : channel_(std::move(channel)),
        stub_(v1::AlertService::NewStub(channel_)),
        request_(std::move(request)),
        reconnect_(std::move(reconnect)) {
    reader_thread_ = std::thread([this] { ReadLoop(); });
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  ~Impl() {
    Cancel();
    reader_thread_.join();
  }

  absl::StatusOr<bool> Next(v1::SubscribeResponse* out, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(this, &Impl::ReadyForNext),
                              timeout)) {
      return absl::DeadlineExceededError(
          absl::StrCat("no response from the server within ",
                       absl::FormatDuration(timeout)));
    }
    if (cancelled_) {
      return absl::CancelledError("the subscription was cancelled");
    }
    if (!queue_.empty()) {
      *out = std::move(queue_.front());
      queue_.pop_front();
      if (out->alerts_size() > 0) {
        last_returned_cursor_ = out->alerts(out->alerts_size() - 1).cursor();
      } else if (out->has_heartbeat()) {
        // The stream has been served everything up to head_cursor
        // (alerts.proto); empty: it stands before the first alert.
        last_returned_cursor_ = out->heartbeat().head_cursor();
        returned_position_ = true;
      }
      return true;
    }
    if (final_status_.ok()) return false;
    return final_status_;
  }

  void Cancel() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    queue_.clear();
    // TryCancel is thread-safe, does not block, and also works before the
    // call has started; a reader thread that then calls Finish gets the
    // CANCELLED status at once.
    if (context_ != nullptr) context_->TryCancel();
  }

  int64_t reconnects() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return reconnects_;
  }

 private:
  bool ReadyForNext() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return cancelled_ || finished_ || !queue_.empty();
  }

  bool HasRoomOrCancelled() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return cancelled_ || queue_.size() < kMaxQueuedResponses;
  }

  void Report(const ReconnectEvent& event) const {
    if (reconnect_.has_value() && reconnect_->on_event) {
      reconnect_->on_event(event);
    }
  }

  // Runs one Subscribe call until it ends (or the stream is cancelled) and
  // returns its final status. Sets `*delivered` when a response arrived.
  // `attempt` is the re-subscribe this call is (0 for the first call).
  absl::Status RunCall(const v1::SubscribeRequest& request, int attempt,
                       bool* delivered) ABSL_LOCKS_EXCLUDED(mu_) {
    grpc::ClientContext context;
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) {
        return absl::CancelledError("the subscription was cancelled");
      }
      context_ = &context;
    }
    std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader =
        stub_->Subscribe(&context, request);
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(this, &Impl::HasRoomOrCancelled));
        if (cancelled_) break;
      }
      v1::SubscribeResponse response;
      if (!reader->Read(&response)) break;
      if (!*delivered) {
        *delivered = true;
        if (attempt > 0) {
          Report({ReconnectEvent::Kind::kResumed, absl::OkStatus(), attempt,
                  absl::ZeroDuration()});
        }
      }
      absl::MutexLock lock(&mu_);
      if (!cancelled_) queue_.push_back(std::move(response));
    }
    const grpc::Status status = reader->Finish();
    absl::MutexLock lock(&mu_);
    context_ = nullptr;
    return FromGrpcStatus(status);
  }

  // The request of re-subscribe attempt `attempt` (0: the first call).
  // Drops the responses not returned yet: the new call sends them again.
  v1::SubscribeRequest NextRequest(int attempt) ABSL_LOCKS_EXCLUDED(mu_) {
    v1::SubscribeRequest request = request_;
    if (attempt == 0) return request;
    absl::MutexLock lock(&mu_);
    queue_.clear();
    ++reconnects_;
    if (!last_returned_cursor_.empty()) {
      request.set_after_cursor(last_returned_cursor_);
    } else if (returned_position_) {
      request.set_position(v1::SubscribeRequest::EARLIEST);
    }
    return request;
  }

  void ReadLoop() ABSL_LOCKS_EXCLUDED(mu_) {
    // Calls start here rather than in the constructor: starting a call can
    // wait for the connection, and Subscribe() promises not to block.
    std::mt19937_64 random(std::random_device{}());
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    int attempt = 0;  // Re-subscribes since the last response.
    absl::Time lost_at = absl::Now();
    absl::Status status;
    while (true) {
      bool delivered = false;
      status = RunCall(NextRequest(attempt), attempt, &delivered);
      if (!reconnect_.has_value() || !IsRetryable(status.code())) break;
      {
        absl::MutexLock lock(&mu_);
        if (cancelled_) break;  // Our own CANCELLED: the caller's wish.
      }
      if (delivered) {
        attempt = 0;
        lost_at = absl::Now();
      }
      ++attempt;
      if (reconnect_->max_attempts > 0 && attempt > reconnect_->max_attempts) {
        status = GaveUp(status, absl::StrCat(reconnect_->max_attempts,
                                             " attempts to resubscribe"));
        break;
      }
      const absl::Duration delay =
          ReconnectDelay(*reconnect_, attempt, unit(random));
      if (reconnect_->give_up_after > absl::ZeroDuration() &&
          absl::Now() + delay - lost_at > reconnect_->give_up_after) {
        status = GaveUp(
            status, absl::StrCat("no connection for ",
                                 absl::FormatDuration(absl::Now() - lost_at)));
        break;
      }
      Report({ReconnectEvent::Kind::kRetrying, status, attempt, delay});
      absl::MutexLock lock(&mu_);
      // Cancel ends the wait at once.
      mu_.AwaitWithTimeout(absl::Condition(&cancelled_), delay);
      if (cancelled_) break;
    }
    absl::MutexLock lock(&mu_);
    finished_ = true;
    final_status_ = status;
  }

  // Constant after construction.
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::AlertService::Stub> stub_;
  const v1::SubscribeRequest request_;
  // Set for a resumable stream.
  const std::optional<ReconnectOptions> reconnect_;

  absl::Mutex mu_;
  // The running call's context, owned by RunCall on the reader thread.
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::deque<v1::SubscribeResponse> queue_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status final_status_ ABSL_GUARDED_BY(mu_);
  std::string last_returned_cursor_ ABSL_GUARDED_BY(mu_);
  // Whether Next returned a heartbeat, which tells where the stream stands
  // even when last_returned_cursor_ is empty (before the first alert).
  bool returned_position_ ABSL_GUARDED_BY(mu_) = false;
  int64_t reconnects_ ABSL_GUARDED_BY(mu_) = 0;

  // Started last, in the constructor body, when every member above exists.
  std::thread reader_thread_;
};

AlertStream::AlertStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AlertStream::~AlertStream() = default;

absl::StatusOr<bool> AlertStream::Next(v1::SubscribeResponse* out) {
  return impl_->Next(out, absl::InfiniteDuration());
}

absl::StatusOr<bool> AlertStream::Next(v1::SubscribeResponse* out,
                                       absl::Duration timeout) {
  return impl_->Next(out, timeout);
}

void AlertStream::Cancel() { impl_->Cancel(); }

int64_t AlertStream::reconnects() const { return impl_->reconnects(); }

class PublishSession::Impl {
 public:
  explicit Impl(const std::shared_ptr<grpc::Channel>& channel)
      : stub_(v1::AlertService::NewStub(channel)),
        stream_(stub_->PublishStream(&context_)) {}
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (!finished_) context_.TryCancel();
  }

  absl::Status Send(const v1::PublishRequest& request) {
    if (!stream_->Write(request)) {
      return absl::UnavailableError(
          "the publish stream is broken; Finish() tells why");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<bool> Receive(v1::PublishResponse* out) {
    return stream_->Read(out);
  }

  absl::Status Finish() {
    stream_->WritesDone();
    // Drain what the server still sends, so that Finish does not block on
    // unread responses.
    v1::PublishResponse ignored;
    while (stream_->Read(&ignored)) {
    }
    finished_ = true;
    return FromGrpcStatus(stream_->Finish());
  }

 private:
  grpc::ClientContext context_;
  const std::unique_ptr<v1::AlertService::Stub> stub_;
  const std::unique_ptr<
      grpc::ClientReaderWriter<v1::PublishRequest, v1::PublishResponse>>
      stream_;
  bool finished_ = false;
};

PublishSession::PublishSession(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

PublishSession::~PublishSession() = default;

absl::Status PublishSession::Send(const v1::PublishRequest& request) {
  return impl_->Send(request);
}

absl::StatusOr<bool> PublishSession::Receive(v1::PublishResponse* out) {
  return impl_->Receive(out);
}

absl::Status PublishSession::Finish() { return impl_->Finish(); }

class Client::Impl {
 public:
  Impl(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
      : channel_(std::move(channel)),
        stub_(v1::AlertService::NewStub(channel_)),
        options_(std::move(options)) {}

  // Runs one unary call with the configured deadline. `method` is a Stub
  // member such as &v1::AlertService::Stub::Publish.
  template <typename Response, typename Request, typename Method>
  absl::StatusOr<Response> Call(Method method, const Request& request) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineAfter(options_.call_timeout));
    Response response;
    const grpc::Status status =
        (stub_.get()->*method)(&context, request, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    return response;
  }

  [[nodiscard]] const std::shared_ptr<grpc::Channel>& channel() const {
    return channel_;
  }

  absl::StatusOr<HealthStatus> CheckHealth(const std::string& service) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineAfter(options_.call_timeout));
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status =
        grpc::health::v1::Health::NewStub(channel_)->Check(&context, request,
                                                           &response);
    if (!status.ok()) return FromGrpcStatus(status);
    return response.status();
  }

 private:
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::AlertService::Stub> stub_;
  const ClientOptions options_;
};

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(
    const ClientOptions& options) {
  if (options.server.empty()) {
    return absl::InvalidArgumentError("the server address is empty");
  }
  if (options.call_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the call timeout must be positive, not ",
                     absl::FormatDuration(options.call_timeout)));
  }
  const bool token_ok = std::all_of(options.token.begin(), options.token.end(),
                                    [](char c) { return c > ' ' && c < 0x7f; });
  if (!token_ok) {
    return absl::InvalidArgumentError(
        "the token has characters other than printable ASCII (it is not "
        "one that `dipwire tokens new` made)");
  }
  // A token in plaintext that only the target's being local allows.
  const bool local_plaintext_token =
      !options.token.empty() && !UsesTls(options) && !options.plaintext_token;
  if (local_plaintext_token && !IsLocalTarget(options.server)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to send the token in plaintext to ", options.server,
        ", which is not a loopback address: connect with TLS (--tls-ca), or "
        "pass --plaintext-token on a network you trust"));
  }
  DIPWIRE_ASSIGN_OR_RETURN(
      std::shared_ptr<grpc::ChannelCredentials> credentials,
      ChannelCredentials(options));
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  args.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  if (local_plaintext_token) {
    // The token goes in plaintext only because the target is on this
    // machine: an HTTP proxy from the environment (http_proxy, grpc_proxy)
    // would carry it, readable, to another one.
    args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  }
  if (!options.tls_server_name.empty()) {
    if (!UsesTls(options)) {
      return absl::InvalidArgumentError(
          "--tls-server-name needs TLS (--tls-ca, or --tls-cert and "
          "--tls-key)");
    }
    args.SetSslTargetNameOverride(options.tls_server_name);
  }
  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  if (!options.token.empty()) {
    interceptors.push_back(
        std::make_unique<BearerTokenInterceptorFactory>(options.token));
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::experimental::CreateCustomChannelWithInterceptors(
          options.server, credentials, args, std::move(interceptors));
  return std::unique_ptr<Client>(
      new Client(std::make_unique<Impl>(std::move(channel), options)));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() = default;

absl::StatusOr<v1::PublishResponse> Client::Publish(
    const v1::PublishRequest& request) {
  return impl_->Call<v1::PublishResponse>(&v1::AlertService::Stub::Publish,
                                          request);
}

absl::StatusOr<v1::ListAlertsResponse> Client::ListAlerts(
    const v1::ListAlertsRequest& request) {
  return impl_->Call<v1::ListAlertsResponse>(
      &v1::AlertService::Stub::ListAlerts, request);
}

absl::StatusOr<v1::ListEventsResponse> Client::ListEvents(
    const v1::ListEventsRequest& request) {
  return impl_->Call<v1::ListEventsResponse>(
      &v1::AlertService::Stub::ListEvents, request);
}

absl::StatusOr<v1::AcknowledgeResponse> Client::Acknowledge(
    const v1::AcknowledgeRequest& request) {
  return impl_->Call<v1::AcknowledgeResponse>(
      &v1::AlertService::Stub::Acknowledge, request);
}

absl::StatusOr<v1::ListSubscriptionsResponse> Client::ListSubscriptions(
    const v1::ListSubscriptionsRequest& request) {
  return impl_->Call<v1::ListSubscriptionsResponse>(
      &v1::AlertService::Stub::ListSubscriptions, request);
}

absl::StatusOr<v1::DeleteSubscriptionResponse> Client::DeleteSubscription(
    const v1::DeleteSubscriptionRequest& request) {
  return impl_->Call<v1::DeleteSubscriptionResponse>(
      &v1::AlertService::Stub::DeleteSubscription, request);
}

absl::StatusOr<v1::ListSinksResponse> Client::ListSinks(
    const v1::ListSinksRequest& request) {
  return impl_->Call<v1::ListSinksResponse>(&v1::AlertService::Stub::ListSinks,
                                            request);
}

absl::StatusOr<v1::ListDeadLettersResponse> Client::ListDeadLetters(
    const v1::ListDeadLettersRequest& request) {
  return impl_->Call<v1::ListDeadLettersResponse>(
      &v1::AlertService::Stub::ListDeadLetters, request);
}

absl::StatusOr<HealthStatus> Client::CheckHealth(const std::string& service) {
  return impl_->CheckHealth(service);
}

absl::StatusOr<v1::RedeliverDeadLettersResponse> Client::RedeliverDeadLetters(
    const v1::RedeliverDeadLettersRequest& request) {
  return impl_->Call<v1::RedeliverDeadLettersResponse>(
      &v1::AlertService::Stub::RedeliverDeadLetters, request);
}

absl::StatusOr<std::unique_ptr<PublishSession>> Client::PublishStream() {
  return std::make_unique<PublishSession>(
      std::make_unique<PublishSession::Impl>(impl_->channel()));
}

absl::StatusOr<std::unique_ptr<AlertStream>> Client::Subscribe(
    const v1::SubscribeRequest& request) {
  return std::make_unique<AlertStream>(std::make_unique<AlertStream::Impl>(
      impl_->channel(), request, std::nullopt));
}

absl::StatusOr<std::unique_ptr<AlertStream>> Client::SubscribeResumable(
    const v1::SubscribeRequest& request, ReconnectOptions options) {
  DIPWIRE_RETURN_IF_ERROR(CheckReconnectOptions(options));
  return std::make_unique<AlertStream>(std::make_unique<AlertStream::Impl>(
      impl_->channel(), request, std::move(options)));
}

}  // namespace dipwire::client
