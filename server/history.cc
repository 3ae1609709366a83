#include "server/history.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/cursor.h"
#include "server/filter.h"

namespace dipwire::server {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
// Records read from the store per round trip, and at most per call.
constexpr size_t kScanPage = 1000;
constexpr size_t kMaxScannedPerCall = 20000;
// Serialized bytes of one page at most (one record always fits, events being
// at most kMaxEventBytes): under the 4 MiB a gRPC client receives by
// default, whatever page_size asks for.
constexpr size_t kMaxPageBytes = size_t{3} * 1024 * 1024;

// What one page may still hold: results, bytes, and records scanned.
class PageBudget {
 public:
  explicit PageBudget(size_t page_size) : page_size_(page_size) {}

  bool open() const {
    return !full_ && results_ < page_size_ && bytes_ < kMaxPageBytes &&
           scanned_ < kMaxScannedPerCall;
  }

  // Accounts for the next record scanned (a result of `bytes` when
  // `match`). Returns false, taking nothing, when it does not fit; the first
  // result always fits.
  bool Take(bool match, size_t bytes) {
    if (!open()) return false;
    if (match && results_ > 0 && bytes_ + bytes > kMaxPageBytes) {
      full_ = true;  // this record starts the next page
      return false;
    }
    ++scanned_;
    if (match) {
      ++results_;
      bytes_ += bytes;
    }
    return true;
  }

 private:
  const size_t page_size_;
  size_t results_ = 0;
  size_t bytes_ = 0;
  size_t scanned_ = 0;
  bool full_ = false;
};

absl::StatusOr<size_t> PageSize(int requested) {
  if (requested < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: ", requested, " is negative"));
  }
  if (requested == 0) return kDefaultPageSize;
  return static_cast<size_t>(std::min(requested, kMaxPageSize));
}

// A token is bound to the listing and the filter it was issued for.
std::string Binding(absl::string_view listing, absl::string_view filter) {
  return absl::StrCat(listing, "\n", filter);
}

// Where a listing goes on: after the page token's position, or, without a
// token, after `trimmed_through` (the history retention kept). A token
// older than that is OUT_OF_RANGE: the records it would go on with are
// gone, and skipping them silently would look like an empty stretch.
absl::StatusOr<uint64_t> StartAfter(const std::string& token,
                                    const std::string& binding,
                                    uint64_t trimmed_through,
                                    absl::string_view records) {
  if (token.empty()) return trimmed_through;
  DIPWIRE_ASSIGN_OR_RETURN(const uint64_t after,
                           DecodePageToken(token, binding));
  if (after < trimmed_through) {
    return absl::OutOfRangeError(absl::StrCat(
        "page_token: retention removed the ", records,
        " this page would start with; list again without a page_token to "
        "start at the oldest one kept"));
  }
  return after;
}

// Reads the page of alerts after `*after` for `request`, whose answer so far
// is `listed`. When the listing has no page token and has listed nothing
// yet, and retention deleted those alerts since the listing looked at the
// log's head, it goes on from the oldest alert kept now, as a new listing
// would; otherwise the store's OUT_OF_RANGE stands.
absl::Status ReadAlertPage(EventStore& store,
                           const v1::ListAlertsRequest& request,
                           const v1::ListAlertsResponse& listed,
                           uint64_t* after, std::vector<StoredAlert>* page) {
  absl::Status read =
      store.ReadAlerts(*after, kScanPage, static_cast<size_t>(-1), page);
  const bool from_oldest =
      request.page_token().empty() && listed.alerts_size() == 0;
  if (read.code() != absl::StatusCode::kOutOfRange || !from_oldest) {
    return read;
  }
  DIPWIRE_ASSIGN_OR_RETURN(const LogHead head, store.Head());
  *after = std::max(*after, head.alerts_trimmed_through);
  page->clear();
  return store.ReadAlerts(*after, kScanPage, static_cast<size_t>(-1), page);
}

}  // namespace

absl::StatusOr<v1::ListAlertsResponse> ListAlerts(
    EventStore& store, const v1::ListAlertsRequest& request,
    const FilterLimits& filter_limits) {
  DIPWIRE_ASSIGN_OR_RETURN(
      const Filter filter,
      Filter::Compile(request.filter(), FilterTarget::kAlert, filter_limits));
  DIPWIRE_ASSIGN_OR_RETURN(const size_t page_size,
                           PageSize(request.page_size()));
  const std::string binding = Binding("alerts", request.filter());
  DIPWIRE_ASSIGN_OR_RETURN(const LogHead head, store.Head());
  DIPWIRE_ASSIGN_OR_RETURN(uint64_t after,
                           StartAfter(request.page_token(), binding,
                                      head.alerts_trimmed_through, "alerts"));

  v1::ListAlertsResponse response;
  PageBudget budget(page_size);
  std::vector<StoredAlert> page;
  while (after < head.last_alert_position && budget.open()) {
    page.clear();
    DIPWIRE_RETURN_IF_ERROR(
        ReadAlertPage(store, request, response, &after, &page));
    if (page.empty()) break;
    for (StoredAlert& alert : page) {
      const bool match = filter.Matches(alert.alert);
      if (!budget.Take(match, match ? alert.alert.ByteSizeLong() : 0)) break;
      after = alert.position;
      if (match) *response.add_alerts() = std::move(alert.alert);
    }
  }
  if (after < head.last_alert_position) {
    response.set_next_page_token(EncodePageToken(after, binding));
  }
  return response;
}

absl::StatusOr<v1::ListEventsResponse> ListEvents(
    EventStore& store, const v1::ListEventsRequest& request,
    const FilterLimits& filter_limits) {
  DIPWIRE_ASSIGN_OR_RETURN(
      const Filter filter,
      Filter::Compile(request.filter(), FilterTarget::kEvent, filter_limits));
  DIPWIRE_ASSIGN_OR_RETURN(const size_t page_size,
                           PageSize(request.page_size()));
  const std::string binding = Binding("events", request.filter());
  DIPWIRE_ASSIGN_OR_RETURN(const LogHead head, store.Head());
  DIPWIRE_ASSIGN_OR_RETURN(uint64_t after,
                           StartAfter(request.page_token(), binding,
                                      head.events_trimmed_through, "events"));

  v1::ListEventsResponse response;
  PageBudget budget(page_size);
  std::vector<StoredEvent> page;
  while (after < head.last_sequence && budget.open()) {
    page.clear();
    DIPWIRE_RETURN_IF_ERROR(store.ReadEvents(after, kScanPage, &page));
    if (page.empty()) break;
    for (StoredEvent& event : page) {
      const bool match = filter.Matches(event.event);
      if (!budget.Take(match, match ? event.event.ByteSizeLong() : 0)) break;
      after = event.sequence;
      if (match) {
        *response.add_events() = std::move(event.event);
        response.add_sequences(event.sequence);
      }
    }
  }
  if (after < head.last_sequence) {
    response.set_next_page_token(EncodePageToken(after, binding));
  }
  return response;
}

}  // namespace dipwire::server
