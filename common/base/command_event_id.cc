#include "common/base/command_event_id.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mend {
namespace {

constexpr std::string_view kPrefix = "cmd/";
constexpr size_t kDigestLength = 32;

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

// The text up to the next '/', consumed from `rest` with the '/'; nullopt if
// there is no '/'.
std::optional<std::string_view> TakePart(std::string_view& rest) {
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view part = rest.substr(0, slash);
  rest.remove_prefix(slash + 1);
  return part;
}

}  // namespace

std::string FormatCommandEventId(const CommandEventId& id) {
  return absl::StrCat(std::string(kPrefix), id.method, "/", id.index, "/", id.digest, "/",
                      id.request_id);
}

std::optional<CommandEventId> ParseCommandEventId(std::string_view event_id) {
  if (!event_id.starts_with(kPrefix)) return std::nullopt;
  std::string_view rest = event_id.substr(kPrefix.size());
  const std::optional<std::string_view> method = TakePart(rest);
  const std::optional<std::string_view> index = TakePart(rest);
  const std::optional<std::string_view> digest = TakePart(rest);
  if (!method || !index || !digest || method->empty() || rest.empty()) {
    return std::nullopt;
  }
  CommandEventId id;
  if (!absl::SimpleAtoi(std::string(*index), &id.index) || index->empty() ||
      (*index)[0] == '+' || (*index)[0] == '-') {
    return std::nullopt;
  }
  if (digest->size() != kDigestLength || !IsLowerHex(*digest)) return std::nullopt;
  id.method = std::string(*method);
  id.digest = std::string(*digest);
  id.request_id = std::string(rest);
  return id;
}

}  // namespace mend
