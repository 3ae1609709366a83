#ifndef DIPWIRE_SERVER_HISTORY_H_
#define DIPWIRE_SERVER_HISTORY_H_

#include "absl/status/statusor.h"
#include "dipwire/v1/alerts.pb.h"
#include "server/event_store.h"
#include "server/filter.h"

namespace dipwire::server {

// Paged listings of the alert and event history, oldest first
// (DESIGN.md, ListAlerts/ListEvents).
//
// page_size defaults to 100 and is capped at 1,000; a negative one is
// INVALID_ARGUMENT. The page token is opaque and bound to the filter it was
// issued for. A page scans a bounded number of stored records, so a filter
// that matches little returns fewer results (maybe none) with a
// next_page_token to go on from: the call's cost is bounded whatever the
// filter. No next_page_token means the end of the log was reached.
// Without a page token a listing starts at the oldest record retention kept;
// a page token older than that is OUT_OF_RANGE. (Records trimmed while a
// page is read: ListEvents skips such events, since the store never hands
// them out; ListAlerts without a page token that has listed nothing yet
// starts at the oldest alert kept by then, and otherwise fails with
// OUT_OF_RANGE.)
//
// Both block on the store; call them off gRPC reaction threads. Errors:
// INVALID_ARGUMENT (filter, page size, page token; the filter is compiled
// under `filter_limits`), or the store's.
absl::StatusOr<v1::ListAlertsResponse> ListAlerts(
    EventStore& store, const v1::ListAlertsRequest& request,
    const FilterLimits& filter_limits = FilterLimits());
absl::StatusOr<v1::ListEventsResponse> ListEvents(
    EventStore& store, const v1::ListEventsRequest& request,
    const FilterLimits& filter_limits = FilterLimits());

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_HISTORY_H_
