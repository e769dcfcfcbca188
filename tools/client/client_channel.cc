#include "tools/client/client_channel.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/security/tls.h"

namespace mend::client {

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeClientChannel(
    const std::string& target, const ChannelSecurity& security,
    const grpc::ChannelArguments& args) {
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  if (!security.tls_ca.empty()) {
    MEND_ASSIGN_OR_RETURN(
        credentials,
        MakeChannelCredentials(security.tls_ca, security.tls_cert, security.tls_key));
  }
  return grpc::CreateCustomChannel(target, credentials, args);
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("--token_file ", path, ": cannot be read"));
  }
  std::stringstream text;
  text << in.rdbuf();
  std::string token(absl::StripAsciiWhitespace(text.str()));
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--token_file ", path, ": is empty"));
  }
  return token;
}

}  // namespace mend::client
