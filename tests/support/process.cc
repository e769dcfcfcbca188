#include "tests/support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace mend::testing {

absl::StatusOr<ChildProcess> ChildProcess::Start(const std::string& path,
                                                 const std::vector<std::string>& args,
                                                 const std::string& log_prefix,
                                                 const std::vector<std::string>& env) {
  std::vector<std::string> argv_storage = {path};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  env_storage.insert(env_storage.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string out = log_prefix + ".stdout";
  const std::string err = log_prefix + ".stderr";
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  // The child must see SIGTERM even if the test blocked it.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  const int rc =
      posix_spawn(&pid, path.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("posix_spawn ", path, ": ", std::strerror(rc)));
  }
  return ChildProcess(pid, log_prefix);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), log_prefix_(std::move(other.log_prefix_)) {
  other.pid_ = -1;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = other.pid_;
    log_prefix_ = std::move(other.log_prefix_);
    other.pid_ = -1;
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void ChildProcess::Signal(int signal) const {
  if (pid_ > 0) kill(pid_, signal);
}

std::optional<int> ChildProcess::Wait(absl::Duration timeout) {
  if (pid_ <= 0) return std::nullopt;
  // A pidfd becomes readable when the process ends: no polling loop.
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    const absl::Time deadline = absl::Now() + timeout;
    int ready = 0;
    do {
      const int64_t ms =
          std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
      ready = poll(&p, 1, static_cast<int>(ms));
    } while (ready < 0 && errno == EINTR);
    close(pidfd);
    if (ready <= 0) return std::nullopt;
  }
  int status = 0;
  if (waitpid(pid_, &status, 0) != pid_) return std::nullopt;
  pid_ = -1;
  return status;
}

std::string ChildProcess::Output() const {
  std::string all;
  for (const char* suffix : {".stdout", ".stderr"}) {
    std::ifstream in(log_prefix_ + suffix);
    std::string text((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    all += "--- " + log_prefix_ + suffix + "\n" + text + "\n";
  }
  return all;
}

ToolResult RunTool(const std::string& path, const std::vector<std::string>& args,
                   const std::string& log_prefix, absl::Duration timeout,
                   const std::vector<std::string>& env) {
  ToolResult result;
  absl::StatusOr<ChildProcess> child = ChildProcess::Start(path, args, log_prefix, env);
  if (!child.ok()) {
    result.err = child.status().ToString();
    return result;
  }
  const std::optional<int> status = child->Wait(timeout);
  if (status.has_value() && WIFEXITED(*status)) result.exit_code = WEXITSTATUS(*status);
  for (auto [suffix, text] :
       {std::pair{".stdout", &result.out}, {".stderr", &result.err}}) {
    std::ifstream in(log_prefix + suffix);
    text->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return result;
}

int PickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::string StopCleanly(ChildProcess& child, absl::Duration timeout) {
  child.Signal(SIGTERM);
  const std::optional<int> status = child.Wait(timeout);
  if (!status.has_value()) {
    return absl::StrCat("still running ", absl::FormatDuration(timeout),
                        " after SIGTERM:\n", child.Output());
  }
  if (!WIFEXITED(*status)) {
    return absl::StrCat("ended by signal ", WTERMSIG(*status), ":\n", child.Output());
  }
  if (WEXITSTATUS(*status) != 0) {
    return absl::StrCat("exited ", WEXITSTATUS(*status), ":\n", child.Output());
  }
  return "";
}

}  // namespace mend::testing
