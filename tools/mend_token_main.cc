// mend-token: mints a bearer token for local use.
//
//   mend-token --key=dev-keys/token-key.pem --subject=alice --role=auditor
//   mend-token --key=dev-keys/token-key.pem --subject=svc-case --role=service --ttl=8h
//
// Prints the token (a JWT: sub, role, iss "mend", aud "mend", iat, exp;
// RS256 or ES256 by the key's type) and a newline on stdout, nothing else.
// Make the development key pair with scripts/dev-token-key.sh; servers verify
// with its public half. Exit status: 0 on success, 2 for a bad or missing
// flag value (the message names the flag), 1 if minting fails otherwise.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/security/auth.h"

ABSL_FLAG(
    std::string, key, "",
    "PEM private key to sign with (RSA >= 2048 bits for RS256, EC P-256 for ES256); "
    "scripts/dev-token-key.sh makes one");
ABSL_FLAG(std::string, subject, "",
          "the token's subject (claim sub), e.g. alice or svc-case");
ABSL_FLAG(std::string, role, "", "facilitator, manager, auditor, service or operator");
ABSL_FLAG(std::string, ttl, "1h",
          "how long the token is valid, as an absl duration: 30m, 1h, 8h30m, ...");

namespace {

constexpr int kBadFlag = 2;

int BadFlag(const std::string& flag, const std::string& message) {
  std::cerr << "mend-token: --" << flag << ": " << message << "\n";
  return kBadFlag;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Mints a mend bearer token.\n"
      "  mend-token --key=PRIVATE_KEY.pem --subject=NAME --role=ROLE [--ttl=1h]");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::cerr << "mend-token: unexpected argument '" << rest[1]
              << "'; every input is a flag (--key, --subject, --role, --ttl)\n";
    return kBadFlag;
  }

  const std::string key_path = absl::GetFlag(FLAGS_key);
  if (key_path.empty()) return BadFlag("key", "required: the PEM private key file");
  std::ifstream in(key_path, std::ios::binary);
  if (!in)
    return BadFlag("key",
                   absl::StrCat("cannot read ", key_path, ": ", std::strerror(errno)));
  std::ostringstream pem;
  pem << in.rdbuf();

  const std::string subject = absl::GetFlag(FLAGS_subject);
  if (subject.empty()) return BadFlag("subject", "required: who the token names");

  absl::StatusOr<mend::Role> role = mend::ParseRole(absl::GetFlag(FLAGS_role));
  if (!role.ok()) {
    return BadFlag("role", absl::StrCat("'", absl::GetFlag(FLAGS_role),
                                        "': ", std::string(role.status().message())));
  }

  absl::Duration ttl;
  const std::string ttl_text = absl::GetFlag(FLAGS_ttl);
  if (!absl::ParseDuration(ttl_text, &ttl)) {
    return BadFlag("ttl",
                   absl::StrCat("'", ttl_text, "' is not a duration (try 30m or 8h)"));
  }
  if (ttl <= absl::ZeroDuration() || ttl == absl::InfiniteDuration()) {
    return BadFlag("ttl", absl::StrCat("'", ttl_text, "' must be positive and finite"));
  }

  absl::StatusOr<std::string> token =
      mend::MintToken(pem.str(), subject, *role, ttl, absl::Now());
  if (!token.ok()) {
    const std::string message(token.status().message());
    if (token.status().code() == absl::StatusCode::kInvalidArgument) {
      // The subject, or the key; say which.
      const bool about_subject = message.rfind("subject", 0) == 0;
      return BadFlag(about_subject ? "subject" : "key", message);
    }
    std::cerr << "mend-token: " << message << "\n";
    return 1;
  }
  std::cout << *token << "\n";
  return std::cout.good() ? 0 : 1;
}
