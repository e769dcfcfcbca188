#include "common/runtime/uuid.h"

#include <cstdint>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"

namespace mend {

std::string NewUuid() {
  absl::BitGen gen;
  const uint64_t hi = (absl::Uniform<uint64_t>(gen) & ~uint64_t{0xF000}) | 0x4000;
  const uint64_t lo =
      (absl::Uniform<uint64_t>(gen) & ~(uint64_t{0x3} << 62)) | (uint64_t{0x2} << 62);
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xFFFF,
                         hi & 0xFFFF, lo >> 48, lo & 0xFFFFFFFFFFFFULL);
}

}  // namespace mend
