#include "server/history.h"

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

absl::StatusOr<uint64_t> StartAfter(const std::string& token,
                                    const std::string& binding) {
  if (token.empty()) return 0;
  return DecodePageToken(token, binding);
}

}  // namespace

absl::StatusOr<v1::ListAlertsResponse> ListAlerts(
    EventStore& store, const v1::ListAlertsRequest& request) {
  DIPWIRE_ASSIGN_OR_RETURN(
      const Filter filter,
      Filter::Compile(request.filter(), FilterTarget::kAlert));
  DIPWIRE_ASSIGN_OR_RETURN(const size_t page_size,
                           PageSize(request.page_size()));
  const std::string binding = Binding("alerts", request.filter());
  DIPWIRE_ASSIGN_OR_RETURN(uint64_t after,
                           StartAfter(request.page_token(), binding));
  DIPWIRE_ASSIGN_OR_RETURN(const LogHead head, store.Head());

  v1::ListAlertsResponse response;
  std::vector<StoredAlert> page;
  size_t scanned = 0;
  while (after < head.last_alert_position &&
         static_cast<size_t>(response.alerts_size()) < page_size &&
         scanned < kMaxScannedPerCall) {
    page.clear();
    DIPWIRE_RETURN_IF_ERROR(
        store.ReadAlerts(after, kScanPage, static_cast<size_t>(-1), &page));
    if (page.empty()) break;
    for (StoredAlert& alert : page) {
      if (static_cast<size_t>(response.alerts_size()) >= page_size) break;
      ++scanned;
      after = alert.position;
      if (filter.Matches(alert.alert)) {
        *response.add_alerts() = std::move(alert.alert);
      }
    }
  }
  if (after < head.last_alert_position) {
    response.set_next_page_token(EncodePageToken(after, binding));
  }
  return response;
}

absl::StatusOr<v1::ListEventsResponse> ListEvents(
    EventStore& store, const v1::ListEventsRequest& request) {
  DIPWIRE_ASSIGN_OR_RETURN(
      const Filter filter,
      Filter::Compile(request.filter(), FilterTarget::kEvent));
  DIPWIRE_ASSIGN_OR_RETURN(const size_t page_size,
                           PageSize(request.page_size()));
  const std::string binding = Binding("events", request.filter());
  DIPWIRE_ASSIGN_OR_RETURN(uint64_t after,
                           StartAfter(request.page_token(), binding));
  DIPWIRE_ASSIGN_OR_RETURN(const LogHead head, store.Head());

  v1::ListEventsResponse response;
  std::vector<StoredEvent> page;
  size_t scanned = 0;
  while (after < head.last_sequence &&
         static_cast<size_t>(response.events_size()) < page_size &&
         scanned < kMaxScannedPerCall) {
    page.clear();
    DIPWIRE_RETURN_IF_ERROR(store.ReadEvents(after, kScanPage, &page));
    if (page.empty()) break;
    for (StoredEvent& event : page) {
      if (static_cast<size_t>(response.events_size()) >= page_size) break;
      ++scanned;
      after = event.sequence;
      if (filter.Matches(event.event)) {
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
