#include "common/observability/logging.h"

#include <google/protobuf/stubs/logging.h>
#include <grpc/support/log.h>
#include <spdlog/details/log_msg.h>
#include <spdlog/formatter.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace mend::log {
namespace {

constexpr char kDefaultService[] = "mend";
constexpr char kLoggerName[] = "mend";

// The fields of the Log call running on this thread. The formatter runs on
// the calling thread (the logger is synchronous), inside that call, so it
// reads them here; a plain spdlog call sees none.
thread_local const Fields* current_fields = nullptr;

spdlog::level::level_enum ToSpdlog(Level level) {
  switch (level) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

const char* LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
    case spdlog::level::critical:
    default:
      return "error";
  }
}

bool IsReservedKey(std::string_view key) {
  return key == "time" || key == "level" || key == "service" || key == "message";
}

class JsonFormatter final : public spdlog::formatter {
 public:
  explicit JsonFormatter(std::string service) : service_(std::move(service)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::ordered_json line;
    line["time"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromChrono(msg.time),
                                    absl::UTCTimeZone());
    line["level"] = LevelName(msg.level);
    line["service"] = service_;
    line["message"] = std::string(msg.payload.data(), msg.payload.size());
    if (current_fields != nullptr) {
      for (const Field& field : *current_fields) {
        const std::string key = IsReservedKey(field.key())
                                    ? absl::StrCat("_", std::string(field.key()))
                                    : std::string(field.key());
        std::visit(
            [&](const auto& v) {
              if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string_view>) {
                line[key] = std::string(v);
              } else {
                line[key] = v;
              }
            },
            field.value());
      }
    }
    // Bytes that are not UTF-8 become U+FFFD instead of throwing.
    const std::string text =
        line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>(service_);
  }

 private:
  const std::string service_;
};

std::shared_ptr<spdlog::logger> MakeLogger(const std::string& service,
                                           spdlog::level::level_enum level,
                                           std::shared_ptr<spdlog::sinks::sink> sink) {
  if (sink == nullptr) sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(kLoggerName, std::move(sink));
  logger->set_formatter(std::make_unique<JsonFormatter>(service));
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  return logger;
}

// Never destroyed: gRPC may log from its threads during exit.
struct State {
  absl::Mutex mu;
  std::shared_ptr<spdlog::logger> logger ABSL_GUARDED_BY(mu);
};

State& GetState() {
  static State* const state = [] {
    auto* s = new State();
    absl::MutexLock lock(&s->mu);
    s->logger = MakeLogger(kDefaultService, spdlog::level::info, nullptr);
    return s;
  }();
  return *state;
}

std::shared_ptr<spdlog::logger> CurrentLogger() {
  State& state = GetState();
  absl::ReaderMutexLock lock(&state.mu);
  return state.logger;
}

void GrpcLogToJson(gpr_log_func_args* args) {
  Level level = Level::kInfo;
  switch (args->severity) {
    case GPR_LOG_SEVERITY_DEBUG:
      level = Level::kDebug;
      break;
    case GPR_LOG_SEVERITY_INFO:
      level = Level::kInfo;
      break;
    case GPR_LOG_SEVERITY_ERROR:
      level = Level::kError;
      break;
  }
  const std::string source =
      absl::StrCat(args->file == nullptr ? "?" : args->file, ":", args->line);
  Log(level, args->message == nullptr ? "" : args->message,
      {{"component", "grpc"}, {"source", source}});
}

// Protobuf's own messages (e.g. "String field ... contains invalid UTF-8
// data when parsing a protocol buffer", which names the field, never its
// bytes).
void ProtobufLogToJson(google::protobuf::LogLevel severity, const char* filename,
                       int line, const std::string& message) {
  Level level = Level::kError;
  switch (severity) {
    case google::protobuf::LOGLEVEL_INFO:
      level = Level::kInfo;
      break;
    case google::protobuf::LOGLEVEL_WARNING:
      level = Level::kWarn;
      break;
    default:  // ERROR, FATAL (protobuf aborts after a FATAL line)
      level = Level::kError;
      break;
  }
  const std::string source =
      absl::StrCat(filename == nullptr ? "?" : filename, ":", line);
  Log(level, message, {{"component", "protobuf"}, {"source", source}});
}

}  // namespace

absl::Status ParseLevel(std::string_view text, Level* level) {
  if (text == "debug") {
    *level = Level::kDebug;
  } else if (text == "info") {
    *level = Level::kInfo;
  } else if (text == "warn") {
    *level = Level::kWarn;
  } else if (text == "error") {
    *level = Level::kError;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown log level \"", std::string(text),
                     "\" (want debug, info, warn or error)"));
  }
  return absl::OkStatus();
}

absl::Status InitLogging(std::string_view service, std::string_view level,
                         std::shared_ptr<spdlog::sinks::sink> sink) {
  Level parsed;
  if (absl::Status s = ParseLevel(level, &parsed); !s.ok()) return s;
  if (service.empty()) return absl::InvalidArgumentError("empty service name for logs");
  std::shared_ptr<spdlog::logger> logger =
      MakeLogger(std::string(service), ToSpdlog(parsed), std::move(sink));
  {
    State& state = GetState();
    absl::MutexLock lock(&state.mu);
    state.logger = logger;
  }
  spdlog::set_default_logger(std::move(logger));
  gpr_set_log_function(&GrpcLogToJson);
  google::protobuf::SetLogHandler(&ProtobufLogToJson);
  return absl::OkStatus();
}

bool Enabled(Level level) { return CurrentLogger()->should_log(ToSpdlog(level)); }

void Log(Level level, std::string_view message, Fields fields) {
  const std::shared_ptr<spdlog::logger> logger = CurrentLogger();
  const spdlog::level::level_enum spd_level = ToSpdlog(level);
  if (!logger->should_log(spd_level)) return;
  const Fields* outer = current_fields;
  current_fields = &fields;
  logger->log(spd_level, spdlog::string_view_t(message.data(), message.size()));
  current_fields = outer;
}

}  // namespace mend::log
