#include "common/observability/metrics_server.h"

#include <httplib.h>
#include <netdb.h>
#include <sys/socket.h>

#include <charconv>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace mend::metrics {
namespace {

// A metrics endpoint answers one scraper or two; a few threads are plenty
// (cpp-httplib's default is eight or more).
constexpr size_t kServerThreads = 2;

bool Resolves(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* result = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &result) != 0) return false;
  freeaddrinfo(result);
  return true;
}

}  // namespace

absl::Status ParseListenAddress(const std::string& address, std::string* host,
                                int* port) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics listen address \"", address, "\" ", std::string(why),
                     " (want host:port, e.g. 0.0.0.0:9090)"));
  };
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return bad("has no port");
  std::string h = address.substr(0, colon);
  const std::string p = address.substr(colon + 1);
  if (!h.empty() && h.front() == '[') {
    if (h.size() < 3 || h.back() != ']') return bad("has a malformed [IPv6] host");
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string::npos) {
    return bad("needs brackets around an IPv6 host");
  }
  int value = -1;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size() || value < 0 ||
      value > 65535) {
    return bad("has no port number in 0..65535");
  }
  if (h.empty()) h = "0.0.0.0";
  if (!Resolves(h)) return bad("names a host that does not resolve");
  *host = std::move(h);
  *port = value;
  return absl::OkStatus();
}

MetricsServer::MetricsServer(const MetricsRegistry* registry, std::string address)
    : registry_(registry), address_(std::move(address)) {}

MetricsServer::~MetricsServer() { Stop(); }

absl::Status MetricsServer::Start() {
  absl::MutexLock lock(&mu_);
  if (started_) return absl::FailedPreconditionError("metrics server already started");
  std::string host;
  int port = 0;
  if (absl::Status s = ParseListenAddress(address_, &host, &port); !s.ok()) return s;

  auto http = std::make_unique<httplib::Server>();
  http->new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  // cpp-httplib's default sets SO_REUSEPORT, which lets a second process
  // bind the same port and share its connections; a port in use must be an
  // error. SO_REUSEADDR only allows rebinding past TIME_WAIT after a restart.
  http->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  const MetricsRegistry* registry = registry_;
  http->Get("/metrics", [registry](const httplib::Request&, httplib::Response& res) {
    res.set_content(registry->Render(), kContentType);
  });
  int bound = -1;
  if (port == 0) {
    bound = http->bind_to_any_port(host);
  } else if (http->bind_to_port(host, port)) {
    bound = port;
  }
  if (bound <= 0) {
    return absl::UnavailableError(absl::StrCat("metrics server cannot listen on ",
                                               address_,
                                               " (address in use or not permitted)"));
  }
  started_ = true;
  port_ = bound;
  loop_done_ = std::make_shared<absl::Notification>();
  thread_ = std::thread([server = http.get(), done = loop_done_] {
    server->listen_after_bind();
    done->Notify();
  });
  http_ = std::move(http);
  return absl::OkStatus();
}

int MetricsServer::port() const {
  absl::MutexLock lock(&mu_);
  return port_;
}

void MetricsServer::Stop() {
  absl::MutexLock stop_lock(&stop_mu_);
  std::unique_ptr<httplib::Server> http;
  std::thread thread;
  std::shared_ptr<absl::Notification> done;
  {
    absl::MutexLock lock(&mu_);
    http = std::move(http_);
    thread = std::move(thread_);
    done = loop_done_;
  }
  if (http == nullptr) return;
  // httplib's stop() does nothing until the listen loop has marked itself
  // running, so wait for that (it is a matter of the thread being scheduled)
  // or for the loop to have ended by itself.
  while (!http->is_running() &&
         !done->WaitForNotificationWithTimeout(absl::Milliseconds(1))) {
  }
  http->stop();
  done->WaitForNotification();
  thread.join();
}

}  // namespace mend::metrics
