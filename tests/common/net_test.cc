#include "common/net.h"

#include "gtest/gtest.h"

namespace dipwire {
namespace {

TEST(IsLoopbackHostTest, LoopbackNamesAndAddresses) {
  for (const char* host :
       {"localhost", "LocalHost", "localhost.", "127.0.0.1", "127.1.2.3", "::1",
        "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "::FFFF:127.9.8.7"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (const char* host :
       {"", "10.0.0.1", "0.0.0.0", "::", "128.0.0.1", "localhost.example",
        "::ffff:10.0.0.1", "::127.0.0.1"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

TEST(IsLocalTargetTest, LoopbackAndUnixTargetsAreLocal) {
  for (const char* target :
       {"127.0.0.1:50051", "localhost:50051", "localhost", "[::1]:50051", "::1",
        "dns:///localhost:50051", "dns://8.8.8.8/127.0.0.1:1",
        "dns:localhost:50051", "ipv4:127.0.0.1:1,127.0.0.2:2",
        "ipv6:[::1]:50051", "[::ffff:127.0.0.1]:50051",
        "ipv6:[::ffff:127.0.0.1]:1", "unix:/run/dipwire.sock",
        "unix-abstract:dw"}) {
    EXPECT_TRUE(IsLocalTarget(target)) << target;
  }
}

TEST(IsLocalTargetTest, AnythingElseIsRemote) {
  for (const char* target :
       {"10.1.2.3:50051", "alerts.example:443", "dns:///alerts.example:443",
        "ipv4:127.0.0.1:1,10.0.0.1:2", "ipv4:", "[2001:db8::1]:50051",
        "0.0.0.0:50051", "dns://127.0.0.1", "", "[::1"}) {
    EXPECT_FALSE(IsLocalTarget(target)) << target;
  }
}

}  // namespace
}  // namespace dipwire
