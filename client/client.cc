#include "client/client.h"

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "dipwire/v1/alerts.grpc.pb.h"
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

std::chrono::system_clock::time_point DeadlineAfter(absl::Duration timeout) {
  return absl::ToChronoTime(absl::Now() + timeout);
}

}  // namespace

// Invariants:
// - The reader thread alone uses the ClientReader; it pushes each response
//   to `queue_` and, when the call is over, sets `finished_` and
//   `final_status_` once.
// - `cancelled_` only goes from false to true, after context_.TryCancel().
// - The reader thread waits while `queue_` holds kMaxQueuedResponses.
class AlertStream::Impl {
 public:
  Impl(std::shared_ptr<grpc::Channel> channel, v1::SubscribeRequest request)
      : channel_(std::move(channel)),
        stub_(v1::AlertService::NewStub(channel_)),
        request_(std::move(request)) {
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
      return true;
    }
    if (final_status_.ok()) return false;
    return final_status_;
  }

  void Cancel() ABSL_LOCKS_EXCLUDED(mu_) {
    // TryCancel first, so that a reader thread that sees `cancelled_` and
    // calls Finish gets the CANCELLED status at once. TryCancel is
    // thread-safe and also works before the call has started.
    context_.TryCancel();
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    queue_.clear();
  }

 private:
  bool ReadyForNext() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return cancelled_ || finished_ || !queue_.empty();
  }

  bool HasRoomOrCancelled() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return cancelled_ || queue_.size() < kMaxQueuedResponses;
  }

  void ReadLoop() ABSL_LOCKS_EXCLUDED(mu_) {
    // Started here rather than in the constructor: starting a call can wait
    // for the connection, and Subscribe() promises not to block.
    std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader =
        stub_->Subscribe(&context_, request_);
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(this, &Impl::HasRoomOrCancelled));
        if (cancelled_) break;
      }
      v1::SubscribeResponse response;
      if (!reader->Read(&response)) break;
      absl::MutexLock lock(&mu_);
      if (!cancelled_) queue_.push_back(std::move(response));
    }
    const grpc::Status status = reader->Finish();
    absl::MutexLock lock(&mu_);
    finished_ = true;
    final_status_ = FromGrpcStatus(status);
  }

  // Constant after construction.
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::AlertService::Stub> stub_;
  const v1::SubscribeRequest request_;

  // Self-synchronized: TryCancel may be called from any thread.
  grpc::ClientContext context_;

  absl::Mutex mu_;
  std::deque<v1::SubscribeResponse> queue_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status final_status_ ABSL_GUARDED_BY(mu_);

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
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  args.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
      options.server, grpc::InsecureChannelCredentials(), args);
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

absl::StatusOr<std::unique_ptr<PublishSession>> Client::PublishStream() {
  return std::make_unique<PublishSession>(
      std::make_unique<PublishSession::Impl>(impl_->channel()));
}

absl::StatusOr<std::unique_ptr<AlertStream>> Client::Subscribe(
    const v1::SubscribeRequest& request) {
  return std::make_unique<AlertStream>(
      std::make_unique<AlertStream::Impl>(impl_->channel(), request));
}

}  // namespace dipwire::client
