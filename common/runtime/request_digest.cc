#include "common/runtime/request_digest.h"

#include <memory>

#include "common/base/sha256.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/message.h"

namespace mend {

std::string RequestDigest(const google::protobuf::Message& request) {
  std::unique_ptr<google::protobuf::Message> canonical(request.New());
  canonical->CopyFrom(request);
  const google::protobuf::Descriptor* descriptor = canonical->GetDescriptor();
  const google::protobuf::Reflection* reflection = canonical->GetReflection();
  for (const char* name : {"request_id", "causal_token"}) {
    if (const google::protobuf::FieldDescriptor* field =
            descriptor->FindFieldByName(name)) {
      reflection->ClearField(canonical.get(), field);
    }
  }
  canonical->DiscardUnknownFields();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);
    canonical->SerializeToCodedStream(&out);
  }
  const Sha256Digest digest = Sha256(bytes);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), 16));
}

}  // namespace mend
