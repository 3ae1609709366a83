#include "server/webhook.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "common/proto_json.h"
#include "google/protobuf/util/time_util.h"

namespace dipwire::server {
namespace {

constexpr absl::string_view kSecretPrefix = "whsec_";
constexpr size_t kMinKeyBytes = 24;
constexpr size_t kMaxKeyBytes = 64;

std::string SeverityName(v1::Alert::Severity severity) {
  switch (severity) {
    case v1::Alert::LOW:
    case v1::Alert::MEDIUM:
    case v1::Alert::HIGH:
      return v1::Alert::Severity_Name(severity);
    default:
      return "UNSPECIFIED";
  }
}

// Slack mrkdwn needs &, < and > escaped (api.slack.com, "Formatting text").
std::string SlackEscape(absl::string_view text) {
  return absl::StrReplaceAll(text,
                             {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}});
}

}  // namespace

void AppendJsonString(absl::string_view text, std::string* out) {
  out->push_back('"');
  for (const char c : text) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          constexpr absl::string_view kHex = "0123456789abcdef";
          absl::StrAppend(out, "\\u00", kHex.substr((c >> 4) & 0xf, 1),
                          kHex.substr(c & 0xf, 1));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

std::string CloudEventType(v1::Alert::Type type) {
  std::string name = v1::Alert::Type_IsValid(type)
                         ? v1::Alert::Type_Name(type)
                         : absl::StrCat("type_", static_cast<int>(type));
  return absl::StrCat("org.dipwire.alert.", absl::AsciiStrToLower(name));
}

std::string CloudEventJson(const v1::Alert& alert, absl::string_view source) {
  std::string out = R"({"specversion":"1.0","id":)";
  AppendJsonString(alert.alert_id(), &out);
  out.append(R"(,"source":)");
  AppendJsonString(source, &out);
  out.append(R"(,"type":)");
  AppendJsonString(CloudEventType(alert.type()), &out);
  if (alert.has_created_at()) {
    out.append(R"(,"time":)");
    AppendJsonString(
        google::protobuf::util::TimeUtil::ToString(alert.created_at()), &out);
  }
  if (!alert.event().event_id().empty()) {
    out.append(R"(,"subject":)");
    AppendJsonString(alert.event().event_id(), &out);
  }
  absl::StrAppend(&out, R"(,"datacontenttype":"application/json","data":)",
                  ToJsonLine(alert), "}");
  return out;
}

std::string SlackMessageJson(const v1::Alert& alert) {
  const std::string severity = SeverityName(alert.severity());
  const v1::Source& source = alert.event().source();
  // The fallback text (notifications, clients without blocks) is plain.
  std::string text = absl::StrCat("[", severity, "] ", alert.headline());
  if (!source.outlet().empty() || !source.url().empty()) {
    absl::StrAppend(&text, " (", source.outlet(),
                    source.outlet().empty() || source.url().empty() ? "" : ": ",
                    source.url(), ")");
  }
  std::string link;
  if (!source.url().empty()) {
    // <url|label>: the URL must not contain '|' or '>' unescaped.
    link = absl::StrCat(
        "<",
        absl::StrReplaceAll(source.url(),
                            {{"|", "%7C"}, {">", "%3E"}, {"<", "%3C"}}),
        "|",
        SlackEscape(source.outlet().empty() ? source.url() : source.outlet()),
        ">");
  } else {
    link = SlackEscape(source.outlet());
  }
  std::string mrkdwn =
      absl::StrCat("*", severity, "* ", SlackEscape(alert.headline()));
  if (!link.empty()) absl::StrAppend(&mrkdwn, "\nSource: ", link);
  std::string out = R"({"text":)";
  AppendJsonString(SlackEscape(text), &out);
  out.append(R"(,"blocks":[{"type":"section","text":{"type":"mrkdwn","text":)");
  AppendJsonString(mrkdwn, &out);
  out.append("}}]}");
  return out;
}

absl::StatusOr<std::string> DecodeWebhookSecret(absl::string_view secret) {
  absl::string_view encoded = secret;
  absl::ConsumePrefix(&encoded, kSecretPrefix);
  std::string key;
  if (encoded.empty() || !absl::Base64Unescape(encoded, &key)) {
    return absl::InvalidArgumentError(
        "the secret is not \"whsec_\" followed by base64");
  }
  if (key.size() < kMinKeyBytes || key.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the secret's key has ", key.size(), " bytes, not ",
                     kMinKeyBytes, " to ", kMaxKeyBytes,
                     " (e.g. \"whsec_\" + base64 of 32 random bytes: "
                     "echo whsec_$(openssl rand -base64 32))"));
  }
  return key;
}

std::string WebhookSignature(absl::string_view key, absl::string_view id,
                             int64_t timestamp, absl::string_view body) {
  const std::string content = absl::StrCat(id, ".", timestamp, ".", body);
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(content.data()), content.size(),
       mac.data(), &mac_size);
  return absl::StrCat(
      "v1,", absl::Base64Escape(absl::string_view(
                 reinterpret_cast<const char*>(mac.data()), mac_size)));
}

std::string RedactUrl(absl::string_view url) {
  const size_t scheme = url.find("://");
  const size_t authority = scheme == absl::string_view::npos ? 0 : scheme + 3;
  const size_t path = std::min(url.find_first_of("/?#", authority), url.size());
  std::string out(url.substr(0, authority));
  absl::string_view host = url.substr(authority, path - authority);
  if (const size_t at = host.rfind('@'); at != absl::string_view::npos) {
    out += "***";
    host.remove_prefix(at);
  }
  out.append(host.data(), host.size());
  // Tokens hide in paths too (a Slack incoming webhook's last segments
  // are its secret): only the first segment stays.
  const size_t end = std::min(url.find_first_of("?#", path), url.size());
  absl::string_view rest = url.substr(path, end - path);
  if (const size_t second = rest.find('/', 1);
      second != absl::string_view::npos) {
    out.append(rest.data(), second + 1);
    out += "***";
  } else {
    out.append(rest.data(), rest.size());
  }
  if (end < url.size() && url[end] == '?') out += "?***";
  return out;
}

}  // namespace dipwire::server
