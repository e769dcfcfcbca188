#include "tools/scenario/audit_run.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace mend::scenario {
namespace {

// Runs `binary args...` with stdout to `out` and stderr to `err` (both
// replaced), and waits: its exit code, 128 + the signal that ended it, or
// an error if it could not be started.
absl::StatusOr<int> Run(const std::string& binary, const std::vector<std::string>& args,
                        const std::string& out, const std::string& err) {
  std::vector<char*> argv = {const_cast<char*>(binary.c_str())};
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, out.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&files, STDERR_FILENO, err.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const int spawned =
      posix_spawn(&pid, binary.c_str(), &files, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  if (spawned != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot run ", binary, ": ", std::strerror(spawned)));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(absl::StrCat("waitpid: ", std::strerror(errno)));
    }
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The lines a reader of the timeline needs from one command's output: its
// findings, its `last` lines (the counts), and on an error its stderr.
void Keep(const std::string& out, const std::string& err, int exit_code, size_t last,
          std::vector<std::string>& kept) {
  const std::vector<std::string> lines = Lines(out);
  const size_t tail = lines.size() > last ? lines.size() - last : 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (i >= tail || absl::StartsWith(line, "FINDING") ||
        absl::StrContains(line, "VIOLATION") || absl::StrContains(line, "RACE") ||
        absl::StrContains(line, "MISMATCH")) {
      kept.push_back(std::string(absl::StripLeadingAsciiWhitespace(line)));
    }
  }
  if (exit_code > 1) {
    for (const std::string& line : Lines(err)) kept.push_back(line);
  }
}

}  // namespace

absl::StatusOr<std::string> FindAuditBinary(const std::string& flag) {
  if (!flag.empty()) {
    if (access(flag.c_str(), X_OK) != 0) {
      return absl::NotFoundError(
          absl::StrCat("--audit_binary ", flag, ": not executable"));
    }
    return flag;
  }
  std::error_code error;
  const std::filesystem::path self =
      std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) {
    return absl::NotFoundError(absl::StrCat("cannot read /proc/self/exe (",
                                            error.message(), "): give --audit_binary"));
  }
  const std::filesystem::path beside = self.parent_path() / "mend-audit";
  const std::filesystem::path build_tree =
      self.parent_path().parent_path() / "audit" / "mend-audit";
  for (const std::filesystem::path& p : {beside, build_tree}) {
    if (access(p.c_str(), X_OK) == 0) return p.string();
  }
  return absl::NotFoundError(absl::StrCat("no mend-audit at ", beside.string(), " or ",
                                          build_tree.string(), ": give --audit_binary"));
}

absl::StatusOr<AuditResult> AuditCase(const AuditOptions& o, const std::string& case_id) {
  std::vector<std::string> common = {
      "--case_log=" + o.case_address,
      "--consent_log=" + o.consent_address,
      "--scheduling_log=" + o.scheduling_address,
      "--conference_log=" + o.conference_address,
      "--case=" + case_id,
      "--token_file=" + o.token_file,
  };
  if (!o.tls_ca.empty()) common.push_back("--tls_ca=" + o.tls_ca);
  if (!o.tls_cert.empty()) common.push_back("--tls_cert=" + o.tls_cert);
  if (!o.tls_key.empty()) common.push_back("--tls_key=" + o.tls_key);

  AuditResult result;
  result.decisions_output = absl::StrCat(o.out_dir, "/audit-", case_id, ".txt");
  result.report_path = absl::StrCat(o.out_dir, "/report-", case_id, ".html");
  const std::string err = absl::StrCat(o.out_dir, "/audit-", case_id, ".stderr");

  std::vector<std::string> decisions = {"decisions"};
  decisions.insert(decisions.end(), common.begin(), common.end());
  absl::StatusOr<int> code = Run(o.binary, decisions, result.decisions_output, err);
  if (!code.ok()) return code.status();
  result.decisions_exit = *code;
  Keep(result.decisions_output, err, result.decisions_exit, 2, result.lines);

  std::vector<std::string> report = {"report", "--html=" + result.report_path};
  report.insert(report.end(), common.begin(), common.end());
  const std::string report_out = absl::StrCat(o.out_dir, "/report-", case_id, ".txt");
  code = Run(o.binary, report, report_out, err + "-report");
  if (!code.ok()) return code.status();
  result.report_exit = *code;
  Keep(report_out, err + "-report", result.report_exit, 1, result.lines);
  return result;
}

}  // namespace mend::scenario
