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

// The first problem absl::ParseCommandLine would exit on: a flag not
// defined, or a value that does not parse ("" when there is none). Handles
// --name=value, --name value, -name, --noname for booleans, and stops at
// "--". The help flags are absl's own and left to it.
std::string CheckCommandLine(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;  // positional
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    const size_t eq = arg.find('=');
    const std::string name(arg.substr(0, eq));
    if (name.starts_with("help") || name == "version" || name == "only_check_args" ||
        name == "fromenv" || name == "tryfromenv" || name == "flagfile" ||
        name == "undefok") {
      continue;
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && name.starts_with("no") && eq == std::string_view::npos) {
      absl::CommandLineFlag* negated = absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) continue;
    }
    if (flag == nullptr) return absl::StrCat("unknown flag --", name);
    std::string value;
    if (eq != std::string_view::npos) {
      value = std::string(arg.substr(eq + 1));
    } else if (flag->IsOfType<bool>()) {
      continue;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return absl::StrCat("--", name, " needs a value");
    }
    // ParseFrom sets the flag, which the real parse sets again to the same
    // value right after.
    std::string error;
    if (!flag->ParseFrom(value, &error)) return absl::StrCat("--", name, ": ", error);
  }
  return "";
}

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
  // absl::ParseCommandLine exits with 1 on a flag it does not know or a
  // value that does not parse; mend's programs promise 2 for usage errors,
  // so the command line is checked first, the same way.
  if (std::string error = CheckCommandLine(argc, argv); !error.empty()) {
    std::fprintf(stderr, "%s: %s (--help lists the flags)\n", argc > 0 ? argv[0] : "mend",
                 error.c_str());
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
