#ifndef DIPWIRE_TESTS_TESTING_HTTP_GET_H_
#define DIPWIRE_TESTS_TESTING_HTTP_GET_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace dipwire::testing {

// Sends `request` (a whole HTTP/1.1 request) to 127.0.0.1:`port` and returns
// everything the server answers until it closes the connection, waiting at
// most 20 s. For tests of dipwired's /metrics endpoint.
inline absl::StatusOr<std::string> HttpExchange(int port,
                                                const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) !=
          0 ||
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(request.size())) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("cannot reach port ", port));
  }
  std::string answer;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (true) {
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    pollfd pfd{fd, POLLIN, 0};
    if (left <= 0 || poll(&pfd, 1, static_cast<int>(left)) <= 0) {
      close(fd);
      return absl::DeadlineExceededError(
          absl::StrCat("no end of the answer after: ", answer));
    }
    std::array<char, 4096> buf{};
    const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) break;
    answer.append(buf.data(), static_cast<size_t>(n));
  }
  close(fd);
  return answer;
}

// The port of "host:port".
inline int PortOf(const std::string& address) {
  int port = 0;
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
    return 0;
  }
  return port;
}

}  // namespace dipwire::testing

#endif  // DIPWIRE_TESTS_TESTING_HTTP_GET_H_
