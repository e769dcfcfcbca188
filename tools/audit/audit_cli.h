// What every mend-audit command shares: exit codes, the connection flags,
// the way a command reports, and the progress line.
//
// Exit codes (scripts rely on them):
//   0  all well: every check passed
//   1  a finding: the log (or a proof, or a decision) is not as it must be;
//      each finding is printed with its log and position
//   2  usage or I/O error: bad arguments, an unreadable directory, an
//      unreachable service; the message says which
#ifndef MEND_TOOLS_AUDIT_AUDIT_CLI_H_
#define MEND_TOOLS_AUDIT_AUDIT_CLI_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/audit/audit_log.h"

namespace mend::audit {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFinding = 1;
inline constexpr int kExitError = 2;

// The positional arguments after the command name ("verify", ...), as
// ParseFlagsWithEnvironment left them.
using Args = std::vector<std::string>;

// A command: runs with the flags parsed, returns the exit code.
using Command = int (*)(const Args& args);

// Something not as it must be, where it is.
struct Finding {
  std::string log;        // the log's name: its service, or its spec
  uint64_t position = 0;  // the record; 0 when it is about the log as a whole
  std::string problem;    // what is wrong, for a person
};
// "FINDING <log> position <N>: <problem>" (or "FINDING <log>: ..."), on
// stdout.
void PrintFinding(const Finding& finding);

// The connection flags (--tls_ca, --tls_cert, --tls_key, --token_file;
// MEND_TLS_CA, ...), as ConnectOptions.
ConnectOptions ConnectFlags();

// Opens a log given by a flag: `flag` names it in messages ("--log").
absl::StatusOr<std::unique_ptr<AuditLog>> OpenLogFlag(std::string_view flag,
                                                      const std::string& spec);

// Prints "mend-audit: <message>" to stderr and returns kExitError: for
// usage and I/O errors.
int UsageError(std::string_view message);
int IoError(const absl::Status& status);

// Reads a whole file (a key, a heads file, a bundle): FAILED_PRECONDITION
// naming it when it cannot be read.
absl::StatusOr<std::string> ReadFile(const std::string& path);
// Writes `contents` to `path` (replacing it) and fsyncs it: written to
// path + ".tmp" and renamed, so a crash leaves the old file or the new.
absl::Status WriteFileDurably(const std::string& path, std::string_view contents);

// A progress line on stderr for long runs, only when stderr is a terminal:
//   "verify consent: 412000 of 1000000 events, 830000/s, 1 s left"
// redrawn at most every 200 ms, cleared by Done().
class Progress {
 public:
  // total 0: unknown (no time left is shown).
  Progress(std::string what, uint64_t total);
  ~Progress();
  void Update(uint64_t done) {
    if (enabled_ && (done & 1023) == 0) Draw(done, false);
  }
  void Done();

 private:
  void Draw(uint64_t done, bool force);
  const std::string what_;
  const uint64_t total_;
  const bool enabled_;
  const std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
};

}  // namespace mend::audit

#endif  // MEND_TOOLS_AUDIT_AUDIT_CLI_H_
