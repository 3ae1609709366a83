// dipwire-bare-server: the baseline dipwire-bench compares dipwired with. It
// serves the same dipwire.v1.AlertService (Publish, PublishStream and
// Subscribe; the other methods are UNIMPLEMENTED) on gRPC's callback API,
// with no storage, no validation and no rules: every event received becomes
// one SubscribeResponse holding one alert that carries the event (so the
// message is as large as dipwired's), written to every subscriber, one
// message per write. Each subscriber has its own bounded queue of pointers
// to those shared messages; when it is full the subscriber misses messages
// (counted, logged at exit) rather than hold anyone up.
//
//   dipwire-bare-server [--listen 127.0.0.1:0] [--queue 1048576]
//
// Prints "listening on HOST:PORT" once it serves, like dipwired; exits 0 on
// SIGTERM or SIGINT.

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <iostream>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/grpc_status.h"
#include "dipwire/v1/alerts.grpc.pb.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"

namespace {

using dipwire::v1::AlertService;
using dipwire::v1::DiplomaticEvent;
using dipwire::v1::PublishRequest;
using dipwire::v1::PublishResponse;
using dipwire::v1::SubscribeRequest;
using dipwire::v1::SubscribeResponse;
using Message = std::shared_ptr<const SubscribeResponse>;

// One Subscribe stream: a bounded queue of shared messages and at most one
// write in flight. Thread-safe; deletes itself in OnDone.
class Subscriber;

// The subscribers now attached. Thread-safe.
class Hub {
 public:
  void Add(Subscriber* subscriber) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    subscribers_.insert(subscriber);
  }
  void Remove(Subscriber* subscriber, int64_t dropped)
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    subscribers_.erase(subscriber);
    dropped_ += dropped;
  }
  // Queues `message` for every subscriber; never blocks on the network.
  void Broadcast(const Message& message) ABSL_LOCKS_EXCLUDED(mu_);
  int64_t dropped() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return dropped_;
  }

 private:
  mutable absl::Mutex mu_;
  // Removed in the subscriber's OnDone, so a Broadcast under mu_ never
  // touches a deleted one.
  absl::flat_hash_set<Subscriber*> subscribers_ ABSL_GUARDED_BY(mu_);
  int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
};

class Subscriber final : public grpc::ServerWriteReactor<SubscribeResponse> {
 public:
  Subscriber(Hub* hub, size_t queue_limit)
      : hub_(hub), queue_limit_(queue_limit) {
    // A first message at once tells the client it is attached, as
    // dipwired's first heartbeat does.
    auto hello = std::make_shared<SubscribeResponse>();
    *hello->mutable_heartbeat()->mutable_server_time() =
        google::protobuf::util::TimeUtil::GetCurrentTime();
    Enqueue(std::move(hello));
    hub_->Add(this);
  }

  void Enqueue(Message message) ABSL_LOCKS_EXCLUDED(mu_) {
    const SubscribeResponse* write = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      if (writing_ == nullptr) {
        writing_ = std::move(message);
        write = writing_.get();
      } else if (queue_.size() < queue_limit_) {
        queue_.push_back(std::move(message));
      } else {
        ++dropped_;
      }
    }
    // Outside the lock: a reaction may run before StartWrite returns.
    if (write != nullptr) StartWrite(write);
  }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    const SubscribeResponse* write = nullptr;
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      writing_.reset();
      if (!ok || cancelled_) {
        finish = MarkFinished();
      } else if (!queue_.empty()) {
        writing_ = std::move(queue_.front());
        queue_.pop_front();
        write = writing_.get();
      }
    }
    if (write != nullptr) StartWrite(write);
    if (finish) Finish(Gone());
  }

  void OnCancel() override ABSL_LOCKS_EXCLUDED(mu_) {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      // A write in flight completes (not ok) and finishes the call then.
      if (writing_ == nullptr) finish = MarkFinished();
    }
    if (finish) Finish(Gone());
  }

  void OnDone() override {
    int64_t dropped = 0;
    {
      absl::MutexLock lock(&mu_);
      dropped = dropped_;
    }
    hub_->Remove(this, dropped);
    delete this;
  }

 private:
  static grpc::Status Gone() {
    return dipwire::ToGrpcStatus(
        absl::CancelledError("the subscriber went away"));
  }

  // True the first time: the caller then calls Finish (exactly once).
  bool MarkFinished() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    mu_.AssertHeld();
    if (finished_) return false;
    finished_ = true;
    queue_.clear();
    return true;
  }

  Hub* const hub_;
  const size_t queue_limit_;
  absl::Mutex mu_;
  Message writing_ ABSL_GUARDED_BY(mu_);  // alive until OnWriteDone
  std::deque<Message> queue_ ABSL_GUARDED_BY(mu_);
  int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

void Hub::Broadcast(const Message& message) {
  absl::MutexLock lock(&mu_);
  for (Subscriber* subscriber : subscribers_) subscriber->Enqueue(message);
}

// Turns each event of `request` into one message for every subscriber and
// fills the publisher's answer (ACCEPTED, a sequence, one alert id each).
class Broadcaster {
 public:
  explicit Broadcaster(Hub* hub) : hub_(hub) {}

  void Publish(const PublishRequest& request, PublishResponse* response) {
    for (const DiplomaticEvent& event : request.events()) {
      const uint64_t sequence = next_sequence_.fetch_add(1) + 1;
      auto message = std::make_shared<SubscribeResponse>();
      dipwire::v1::Alert* alert = message->add_alerts();
      alert->set_alert_id(absl::StrCat("a", sequence));
      alert->set_cursor(absl::StrCat(sequence));
      *alert->mutable_event() = event;
      hub_->Broadcast(message);
      dipwire::v1::PublishResult* result = response->add_results();
      result->set_event_id(event.event_id());
      result->set_outcome(dipwire::v1::PublishResult::ACCEPTED);
      result->set_sequence(sequence);
      result->add_alert_ids(alert->alert_id());
    }
  }

 private:
  Hub* const hub_;
  std::atomic<uint64_t> next_sequence_{0};
};

// PublishStream: reads the next request as soon as one is answered in
// memory; answers are written in order, one write in flight.
class PublishStream final
    : public grpc::ServerBidiReactor<PublishRequest, PublishResponse> {
 public:
  explicit PublishStream(Broadcaster* broadcaster) : broadcaster_(broadcaster) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    const PublishResponse* write = nullptr;
    bool finish = false;
    if (ok) {
      auto response = std::make_unique<PublishResponse>();
      broadcaster_->Publish(request_, response.get());
      absl::MutexLock lock(&mu_);
      if (writing_ == nullptr) {
        writing_ = std::move(response);
        write = writing_.get();
      } else {
        answers_.push_back(std::move(response));
      }
    } else {
      absl::MutexLock lock(&mu_);
      reading_done_ = true;
      finish = writing_ == nullptr && MarkFinished();
    }
    // Outside the lock: a reaction may run before these return.
    if (write != nullptr) StartWrite(write);
    if (ok) StartRead(&request_);
    if (finish) Finish(grpc::Status::OK);
  }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    const PublishResponse* write = nullptr;
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      writing_.reset();
      if (ok && !answers_.empty()) {
        writing_ = std::move(answers_.front());
        answers_.pop_front();
        write = writing_.get();
      } else if (!ok || reading_done_) {
        finish = MarkFinished();
      }
    }
    if (write != nullptr) StartWrite(write);
    if (finish) Finish(grpc::Status::OK);
  }

  void OnDone() override { delete this; }

 private:
  bool MarkFinished() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    mu_.AssertHeld();
    if (finished_) return false;
    finished_ = true;
    return true;
  }

  Broadcaster* const broadcaster_;
  absl::Mutex mu_;
  PublishRequest request_;  // only one read in flight
  std::unique_ptr<PublishResponse> writing_ ABSL_GUARDED_BY(mu_);
  std::deque<std::unique_ptr<PublishResponse>> answers_ ABSL_GUARDED_BY(mu_);
  bool reading_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

class BareService final : public AlertService::CallbackService {
 public:
  explicit BareService(size_t queue_limit)
      : queue_limit_(queue_limit), broadcaster_(&hub_) {}

  const Hub& hub() const { return hub_; }

  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context,
                                    const PublishRequest* request,
                                    PublishResponse* response) override {
    broadcaster_.Publish(*request, response);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerBidiReactor<PublishRequest, PublishResponse>* PublishStream(
      grpc::CallbackServerContext* /*context*/) override {
    return new ::PublishStream(&broadcaster_);
  }

  grpc::ServerWriteReactor<SubscribeResponse>* Subscribe(
      grpc::CallbackServerContext* /*context*/,
      const SubscribeRequest* /*request*/) override {
    return new Subscriber(&hub_, queue_limit_);
  }

 private:
  const size_t queue_limit_;
  Hub hub_;
  Broadcaster broadcaster_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  size_t queue_limit = size_t{1} << 20;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    const bool has_value = i + 1 < argc;
    if (flag == "--listen" && has_value) {
      listen = argv[i + 1];
    } else if (flag == "--queue" && has_value &&
               absl::SimpleAtoi(argv[i + 1], &queue_limit) && queue_limit > 0) {
      continue;
    } else {
      std::fprintf(stderr,
                   "usage: dipwire-bare-server [--listen HOST:PORT] "
                   "[--queue MESSAGES PER SUBSCRIBER, > 0]\n");
      return 2;
    }
  }
  // SIGTERM and SIGINT are taken by sigwait below, on this thread only:
  // blocked before gRPC starts its threads, which inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  BareService service(queue_limit);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "dipwire-bare-server: cannot listen on %s\n",
                 listen.c_str());
    return 1;
  }
  const std::string host = listen.substr(0, listen.rfind(':'));
  std::cout << "listening on " << host << ":" << port << std::endl;
  int signal = 0;
  sigwait(&signals, &signal);
  // Streams still open are cancelled at the deadline.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  const int64_t dropped = service.hub().dropped();
  if (dropped > 0) {
    std::fprintf(stderr,
                 "dipwire-bare-server: %lld messages dropped from full "
                 "subscriber queues (--queue %zu)\n",
                 static_cast<long long>(dropped), queue_limit);
  }
  return 0;
}
