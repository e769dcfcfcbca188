// Configuration: Abseil flags, each also settable as a MEND_* environment
// variable. The variable is the flag's name upper-cased with MEND_ in front
// (--upstream_case <-> MEND_UPSTREAM_CASE); a flag given on the command line
// wins over the variable.
//
//   int main(int argc, char** argv) {
//     std::vector<char*> args = mend::ParseFlagsWithEnvironment(argc, argv);
//     ...
//   }
#ifndef MEND_COMMON_BASE_CONFIG_H_
#define MEND_COMMON_BASE_CONFIG_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace mend {

// Sets every registered flag that has a MEND_<NAME> variable in `environment`
// ("NAME=value" strings, as in environ) to the variable's value. Variables
// that name no flag are ignored. INVALID_ARGUMENT, naming the variable and the
// flag, if a value does not parse for its flag; the flags set before the bad
// one keep their values.
absl::Status ApplyEnvironmentToFlags(const std::vector<std::string>& environment);

// The MEND_* variable that sets `flag_name`.
std::string EnvironmentVariableFor(std::string_view flag_name);

// Applies the process environment, then parses the command line (which wins).
// Exits with status 2 and a message naming the flag or variable on a bad
// value, as absl::ParseCommandLine does. Returns the positional arguments.
std::vector<char*> ParseFlagsWithEnvironment(int argc, char** argv);

// Exits with status 2 after printing "<program>: --<flag>: <message>" to
// stderr: for values that parse but are not acceptable (checked at start).
[[noreturn]] void ExitWithFlagError(std::string_view flag, std::string_view message);

}  // namespace mend

#endif  // MEND_COMMON_BASE_CONFIG_H_
