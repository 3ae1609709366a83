// Publishers and subscribers over gRPC, for dipwired and the bare server.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "bench/load.h"
#include "common/grpc_status.h"
#include "dipwire/v1/alerts.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace dipwire::bench {
namespace {

using v1::AlertService;

// A channel of its own: gRPC shares subchannels (and so connections)
// between channels with equal arguments unless told otherwise.
std::shared_ptr<grpc::Channel> OwnChannel(const std::string& address,
                                          const std::string& role, int index) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetString("dipwire.bench.channel", absl::StrCat(role, index));
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

v1::PublishRequest Request(const Lane& lane, int64_t first, int size) {
  v1::PublishRequest request;
  const int64_t now = NowNanos();
  for (int64_t i = first; i < std::min(first + size, lane.end); ++i) {
    *request.add_events() = BenchEvent(lane, i, now);
  }
  return request;
}

// A failure kept by the first lane that fails. Thread-safe.
class FirstError {
 public:
  void Set(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (status_.ok()) status_ = std::move(status);
  }
  absl::Status Get() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return status_;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

// Checks that a request's answer accepted every event.
absl::Status CheckAnswer(const v1::PublishResponse& response, int events) {
  if (response.has_error()) {
    return absl::InternalError(
        absl::StrCat("a request was refused: ", response.error().message()));
  }
  if (response.results_size() != events) {
    return absl::InternalError("an answer does not match its request");
  }
  for (const v1::PublishResult& result : response.results()) {
    if (result.outcome() != v1::PublishResult::ACCEPTED) {
      return absl::InternalError(absl::StrCat(result.event_id(),
                                              " was not accepted (a data "
                                              "directory that is not fresh?)"));
    }
  }
  return absl::OkStatus();
}

// The number of events of request `r` of `lane`.
int RequestSize(const Lane& lane, int64_t r, int per) {
  return static_cast<int>(
      std::min<int64_t>(per, lane.end - lane.begin - r * per));
}

// One PublishStream: a writer paced to `rate` with at most `in_flight`
// requests unanswered, and a reader of the answers.
void StreamLane(const std::string& address, const Lane& lane,
                const PublishShape& shape, double rate, int64_t start_ns,
                FirstError* error) {
  auto stub =
      AlertService::NewStub(OwnChannel(address, "publisher", lane.index));
  const int per = shape.events_per_request;
  const int64_t requests = (lane.end - lane.begin + per - 1) / per;
  grpc::ClientContext context;
  // Bounds a run against a server that stops answering: the paced time
  // plus ten minutes.
  const double paced_s =
      rate > 0 ? static_cast<double>(lane.end - lane.begin) / rate : 0;
  context.set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::seconds(600 + static_cast<int64_t>(paced_s)));
  auto stream = stub->PublishStream(&context);
  Window window(shape.in_flight);
  std::atomic<bool> reader_done{false};
  std::thread reader([&] {
    v1::PublishResponse response;
    for (int64_t r = 0; r < requests; ++r) {
      if (!stream->Read(&response)) {
        error->Set(absl::UnavailableError("a PublishStream broke"));
        break;
      }
      absl::Status checked = CheckAnswer(response, RequestSize(lane, r, per));
      if (!checked.ok()) {
        error->Set(std::move(checked));
        // Else Finish would wait for the answers nobody reads.
        context.TryCancel();
        break;
      }
      window.Release();
    }
    reader_done = true;
  });
  for (int64_t r = 0; r < requests && !reader_done; ++r) {
    Pace(start_ns, r, per, rate);
    while (!window.Acquire(absl::Seconds(1)) && !reader_done) {
    }
    if (reader_done) break;
    const v1::PublishRequest request = Request(lane, lane.begin + r * per, per);
    if (!stream->Write(request)) break;
  }
  stream->WritesDone();
  reader.join();
  const grpc::Status status = stream->Finish();
  if (!status.ok()) error->Set(FromGrpcStatus(status));
}

// One unary caller: a request at a time.
void UnaryLane(const std::string& address, const Lane& lane,
               const PublishShape& shape, double rate, int64_t start_ns,
               FirstError* error) {
  auto stub = AlertService::NewStub(OwnChannel(address, "caller", lane.index));
  const int per = shape.events_per_request;
  const int64_t requests = (lane.end - lane.begin + per - 1) / per;
  for (int64_t r = 0; r < requests; ++r) {
    Pace(start_ns, r, per, rate);
    const v1::PublishRequest request = Request(lane, lane.begin + r * per, per);
    v1::PublishResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(30));
    const grpc::Status status = stub->Publish(&context, request, &response);
    absl::Status checked = status.ok()
                               ? CheckAnswer(response, request.events_size())
                               : FromGrpcStatus(status);
    if (!checked.ok()) {
      error->Set(std::move(checked));
      return;
    }
  }
}

class GrpcSubscriber final
    : public Subscriber,
      public grpc::ClientReadReactor<v1::SubscribeResponse> {
 public:
  GrpcSubscriber(const std::string& address, const SubscriberOptions& options,
                 Progress* progress)
      : stub_(AlertService::NewStub(
            OwnChannel(address, "subscriber", options.index))),
        stalled_(options.stalled),
        progress_(progress),
        tally_(options.count) {
    request_.set_filter(options.filter);
    request_.set_position(options.earliest ? v1::SubscribeRequest::EARLIEST
                                           : v1::SubscribeRequest::LATEST);
    // dipwired sends the first heartbeat at once: it tells the stream is
    // attached.
    request_.mutable_heartbeat_interval()->set_seconds(1);
    stub_->async()->Subscribe(&context_, &request_, this);
    StartRead(&response_);
    StartCall();
  }

  ~GrpcSubscriber() override { GrpcSubscriber::Stop(); }

  absl::Status AwaitAttached(absl::Duration timeout) override {
    if (!attached_.WaitForNotificationWithTimeout(timeout)) {
      return absl::UnavailableError(
          absl::StrCat("a subscriber got no response within ",
                       absl::FormatDuration(timeout)));
    }
    if (done_.HasBeenNotified()) {
      // With the server's code: a bad --filter is INVALID_ARGUMENT.
      const absl::Status ended = FromGrpcStatus(status_);
      return ended.ok()
                 ? absl::UnavailableError(
                       "a Subscribe stream ended before its first "
                       "response")
                 : absl::Status(ended.code(),
                                absl::StrCat("a Subscribe stream ended: ",
                                             ended.message()));
    }
    return absl::OkStatus();
  }

  void Cancel() override { context_.TryCancel(); }

  void Stop() override {
    Cancel();
    done_.WaitForNotification();
  }

  const Tally& tally() const override { return tally_; }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    if (!attached_.HasBeenNotified()) attached_.Notify();
    const int64_t now = NowNanos();
    int64_t first = 0;
    for (const v1::Alert& alert : response_.alerts()) {
      first += tally_.Record(alert.event(), now);
    }
    tally_.CountRead(response_.alerts_size());
    if (first > 0) progress_->Add(first);
    if (!stalled_) StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    status_ = status;
    if (!attached_.HasBeenNotified()) attached_.Notify();
    done_.Notify();
  }

 private:
  const std::unique_ptr<AlertService::Stub> stub_;
  const bool stalled_;
  Progress* const progress_;
  grpc::ClientContext context_;
  v1::SubscribeRequest request_;
  v1::SubscribeResponse response_;  // one read at a time
  Tally tally_;                     // read by the reactions, one at a time
  grpc::Status status_;             // set before done_
  absl::Notification attached_;
  absl::Notification done_;
};

int PortOf(const std::string& address) {
  int port = 0;
  return absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port) ? port
                                                                         : 0;
}

}  // namespace

absl::Status Publish(Mode mode, const std::string& address,
                     const PublishShape& shape, int64_t count,
                     int64_t* start_ns) {
  if (mode == Mode::kRedis) {
    return PublishRedis(PortOf(address), shape, count, start_ns);
  }
  const int lanes =
      shape.unary ? shape.publishers * shape.in_flight : shape.publishers;
  const double rate = shape.rate / lanes;
  *start_ns = NowNanos();
  FirstError error;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(lanes));
  for (const Lane& lane : SplitLanes(count, lanes)) {
    threads.emplace_back([&, lane, start = *start_ns] {
      if (shape.unary) {
        UnaryLane(address, lane, shape, rate, start, &error);
      } else {
        StreamLane(address, lane, shape, rate, start, &error);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return error.Get();
}

absl::StatusOr<std::unique_ptr<Subscriber>> StartSubscriber(
    Mode mode, const std::string& address, const SubscriberOptions& options,
    Progress* progress) {
  if (mode == Mode::kRedis) {
    return StartRedisSubscriber(PortOf(address), options, progress);
  }
  return std::unique_ptr<Subscriber>(
      std::make_unique<GrpcSubscriber>(address, options, progress));
}

}  // namespace dipwire::bench
