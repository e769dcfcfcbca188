// A child process for end-to-end tests: started with posix_spawn, its stdout
// and stderr captured to files (printed when a test fails), killed and reaped
// by the destructor if still running.
#ifndef MEND_TESTS_SUPPORT_PROCESS_H_
#define MEND_TESTS_SUPPORT_PROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mend::testing {

class ChildProcess {
 public:
  // Starts `path` with `args` (argv[1..]) and the current environment plus
  // `env` ("NAME=value"). Output goes to `<log_prefix>.stdout/.stderr`.
  static absl::StatusOr<ChildProcess> Start(const std::string& path,
                                            const std::vector<std::string>& args,
                                            const std::string& log_prefix,
                                            const std::vector<std::string>& env = {});
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ~ChildProcess();  // SIGKILL and reap if running

  void Signal(int signal) const;
  // Waits for the process to end, up to `timeout`. Returns the raw wait
  // status, or nullopt on timeout.
  std::optional<int> Wait(absl::Duration timeout);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // What the process wrote so far, for failure messages.
  std::string Output() const;

 private:
  ChildProcess(pid_t pid, std::string log_prefix)
      : pid_(pid), log_prefix_(std::move(log_prefix)) {}
  pid_t pid_ = -1;
  std::string log_prefix_;
};

// A command-line tool run to its end (mend-audit, mend-token ...).
struct ToolResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  std::string out;     // stdout
  std::string err;     // stderr
};
// Runs `path` with `args` until it exits (killed after `timeout`), its
// output captured under `log_prefix` (.stdout/.stderr). A failure to start
// is exit_code -1 with the reason in `err`.
ToolResult RunTool(const std::string& path, const std::vector<std::string>& args,
                   const std::string& log_prefix,
                   absl::Duration timeout = absl::Minutes(2),
                   const std::vector<std::string>& env = {});

// A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, close): for
// a process that must come back on the same port after a restart.
int PickFreePort();

// Sends SIGTERM and waits up to `timeout`: "" if the process then exited
// with status 0, else what happened instead, with its output. For
//   EXPECT_EQ(StopCleanly(child), "");
std::string StopCleanly(ChildProcess& child, absl::Duration timeout = absl::Seconds(30));

}  // namespace mend::testing

#endif  // MEND_TESTS_SUPPORT_PROCESS_H_
