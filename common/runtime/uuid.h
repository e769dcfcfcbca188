// Random (version 4) UUIDs for server-made ids: case ids, consent ids,
// decision ids.
#ifndef MEND_COMMON_RUNTIME_UUID_H_
#define MEND_COMMON_RUNTIME_UUID_H_

#include <string>

namespace mend {

// "xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx", lower-case hex, from a
// thread-safe random generator seeded by the OS.
std::string NewUuid();

}  // namespace mend

#endif  // MEND_COMMON_RUNTIME_UUID_H_
