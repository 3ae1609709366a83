#ifndef DIPWIRE_SERVER_WEBHOOK_H_
#define DIPWIRE_SERVER_WEBHOOK_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dipwire/v1/alerts.pb.h"

namespace dipwire::server {

// The bodies and signatures of webhook requests (README.md, "Webhook
// sinks"). Pure functions; safe for concurrent use.

// Content types of the two formats' request bodies.
inline constexpr absl::string_view kCloudEventsContentType =
    "application/cloudevents+json; charset=UTF-8";
inline constexpr absl::string_view kSlackContentType =
    "application/json; charset=utf-8";

// The CloudEvents `type` of `alert`: "org.dipwire.alert." + the alert type
// in lower case (org.dipwire.alert.trade_record).
std::string CloudEventType(v1::Alert::Type type);

// `alert` as one CloudEvents 1.0 event in the JSON event format (structured
// mode): specversion "1.0", id = alert_id, source = `source`, type (see
// CloudEventType), time = created_at (RFC 3339), subject = the triggering
// event's event_id (omitted when empty), datacontenttype
// "application/json", and data = the alert in proto3 JSON (lowerCamelCase
// names, enums by name, as common/proto_json.h prints it).
std::string CloudEventJson(const v1::Alert& alert, absl::string_view source);

// A Slack incoming-webhook body for `alert`: {"text": fallback, "blocks":
// [one mrkdwn section]} with the severity, the headline and a link to the
// source (its outlet, linking to the source URL when there is one). Text is
// escaped for Slack's mrkdwn (&, <, >).
std::string SlackMessageJson(const v1::Alert& alert);

// Decodes a Standard Webhooks signing secret, "whsec_" + base64 of the key
// bytes (the prefix is optional, as in the reference libraries). Returns the
// key, or INVALID_ARGUMENT when the rest is not base64 or the key is not 24
// to 64 bytes long (the spec's range). The message never contains the
// secret.
absl::StatusOr<std::string> DecodeWebhookSecret(absl::string_view secret);

// The value of the `webhook-signature` header: "v1," + the base64 of
// HMAC-SHA256(key, "<id>.<timestamp>.<body>") (Standard Webhooks).
std::string WebhookSignature(absl::string_view key, absl::string_view id,
                             int64_t timestamp, absl::string_view body);

// `url` for display, with no secret a URL may carry: a user:password, a
// query string and every path segment after the first are replaced by
// "***" (the fragment is dropped).
std::string RedactUrl(absl::string_view url);

// Appends `text` to `out` as a JSON string literal (quoted, escaped).
void AppendJsonString(absl::string_view text, std::string* out);

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_WEBHOOK_H_
