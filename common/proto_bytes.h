#ifndef DIPWIRE_COMMON_PROTO_BYTES_H_
#define DIPWIRE_COMMON_PROTO_BYTES_H_

#include <string>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/message_lite.h"

namespace dipwire {

// The deterministic serialization of `message` (map entries sorted), so that
// equal messages give equal bytes: what the store keeps, what idempotency
// hashes, and what StoredAlert::payload holds. dipwire's messages are proto3
// (no required fields) and bounded far below protobuf's 2 GiB, so
// serialization cannot fail.
inline std::string SerializeDeterministically(
    const google::protobuf::MessageLite& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

}  // namespace dipwire

#endif  // DIPWIRE_COMMON_PROTO_BYTES_H_
