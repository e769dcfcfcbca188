#include "common/base/config.h"

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace mend {
namespace {

constexpr std::string_view kPrefix = "MEND_";

}  // namespace

std::string EnvironmentVariableFor(std::string_view flag_name) {
  std::string out(kPrefix);
  for (char c : flag_name) out.push_back(static_cast<char>(std::toupper(c)));
  return out;
}

absl::Status ApplyEnvironmentToFlags(const std::vector<std::string>& environment) {
  for (const std::string& entry : environment) {
    if (entry.rfind(kPrefix, 0) != 0) continue;
    const size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;
    std::string name;
    for (char c : entry.substr(kPrefix.size(), eq - kPrefix.size())) {
      name.push_back(static_cast<char>(std::tolower(c)));
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr || flag->IsRetired()) continue;  // e.g. MEND_JOBS for scripts
    std::string error;
    const std::string value = entry.substr(eq + 1);
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat(entry.substr(0, eq), " (flag --", name, "): ", error));
    }
  }
  return absl::OkStatus();
}

std::vector<char*> ParseFlagsWithEnvironment(int argc, char** argv) {
  std::vector<std::string> environment;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e)
    environment.emplace_back(*e);
  if (absl::Status s = ApplyEnvironmentToFlags(environment); !s.ok()) {
    std::fprintf(stderr, "%s: %s\n", argc > 0 ? argv[0] : "mend",
                 std::string(s.message()).c_str());
    std::exit(2);
  }
  return absl::ParseCommandLine(argc, argv);
}

void ExitWithFlagError(std::string_view flag, std::string_view message) {
  std::fprintf(stderr, "--%s (or %s): %s\n", std::string(flag).c_str(),
               EnvironmentVariableFor(flag).c_str(), std::string(message).c_str());
  std::exit(2);
}

}  // namespace mend
