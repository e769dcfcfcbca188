#include "tools/audit/audit_cli.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

ABSL_FLAG(std::string, tls_ca, "",
          "CA certificates to verify a service against (TLS); empty: plaintext");
ABSL_FLAG(std::string, tls_cert, "", "client certificate for mutual TLS");
ABSL_FLAG(std::string, tls_key, "", "private key of --tls_cert");
ABSL_FLAG(std::string, token_file, "",
          "file holding a bearer token with the auditor role, for a running service");

namespace mend::audit {

ConnectOptions ConnectFlags() {
  return ConnectOptions{.tls_ca = absl::GetFlag(FLAGS_tls_ca),
                        .tls_cert = absl::GetFlag(FLAGS_tls_cert),
                        .tls_key = absl::GetFlag(FLAGS_tls_key),
                        .token_file = absl::GetFlag(FLAGS_token_file),
                        .secondary_root = ""};
}

absl::StatusOr<std::unique_ptr<AuditLog>> OpenLogFlag(std::string_view flag,
                                                      const std::string& spec) {
  if (spec.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(flag),
        " is required: a service's data directory, or host:port of a running service"));
  }
  absl::StatusOr<std::unique_ptr<AuditLog>> log = OpenAuditLog(spec, ConnectFlags());
  if (!log.ok()) {
    return absl::Status(log.status().code(),
                        absl::StrCat(std::string(flag), ": ", log.status().message()));
  }
  return log;
}

void PrintFinding(const Finding& finding) {
  if (finding.position == 0) {
    std::printf("FINDING %s: %s\n", finding.log.c_str(), finding.problem.c_str());
  } else {
    std::printf("FINDING %s position %llu: %s\n", finding.log.c_str(),
                static_cast<unsigned long long>(finding.position),
                finding.problem.c_str());
  }
  std::fflush(stdout);
}

int UsageError(std::string_view message) {
  std::fprintf(stderr, "mend-audit: %.*s\n", static_cast<int>(message.size()),
               message.data());
  return kExitError;
}

int IoError(const absl::Status& status) {
  return UsageError(absl::StrCat(absl::StatusCodeToString(status.code()), ": ",
                                 std::string(status.message())));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": cannot be read: ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::FailedPreconditionError(absl::StrCat(path, ": read failed"));
  return text.str();
}

absl::Status WriteFileDurably(const std::string& path, std::string_view contents) {
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": cannot be written: ", std::strerror(errno)));
  }
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = errno;
      close(fd);
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": write failed: ", std::strerror(e)));
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    const int e = errno;
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": fsync failed: ", std::strerror(e)));
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": rename failed: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

Progress::Progress(std::string what, uint64_t total)
    : what_(std::move(what)),
      total_(total),
      enabled_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() { Done(); }

void Progress::Draw(uint64_t done, bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(200)) return;
  last_draw_ = now;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  std::string line = absl::StrFormat("%s: %d", what_, done);
  if (total_ > 0) absl::StrAppendFormat(&line, " of %d", total_);
  absl::StrAppendFormat(&line, " events, %.0f/s", rate);
  if (total_ > done && rate > 0) {
    absl::StrAppendFormat(&line, ", %.0f s left",
                          static_cast<double>(total_ - done) / rate);
  }
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  drawn_ = true;
}

void Progress::Done() {
  if (drawn_) std::fprintf(stderr, "\r\033[K");
  drawn_ = false;
}

}  // namespace mend::audit
