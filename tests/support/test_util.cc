#include "tests/support/test_util.h"

#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

namespace mend::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/mend-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed for " + tmpl);
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  // MEND_KEEP_TEST_DIRS=1 keeps every test's directory (its services' logs,
  // their output) to look at afterwards.
  const char* keep = std::getenv("MEND_KEEP_TEST_DIRS");
  if (keep != nullptr && *keep != '\0' && std::string_view(keep) != "0") {
    std::fprintf(stderr, "kept %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace mend::testing
