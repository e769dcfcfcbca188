#include "common/security/tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace mend {
namespace {

// No PEM file mend reads is anywhere near this; a bigger one is a wrong path
// (or /dev/zero), not a certificate.
constexpr size_t kMaxPemFileSize = 1 << 20;

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

// A passphrase callback that has no passphrase: without it OpenSSL would
// prompt on the terminal for an encrypted key.
int NoPassphrase(char*, int, int, void*) { return -1; }

// Takes this thread's OpenSSL error queue as text and leaves the queue empty,
// so a stale error cannot confuse a later TLS call on the same thread.
std::string TakeOpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? std::string("no detail from OpenSSL") : out;
}

std::string ErrnoText(int err) {
  return std::error_code(err, std::generic_category()).message();
}

std::string Quote(const std::string& path) { return absl::StrCat("'", path, "'"); }

// Reads the PEM file at `path`; `what` names its role in messages ("TLS
// certificate"). Checks only that it looks like PEM.
absl::StatusOr<std::string> ReadPemFile(const std::string& path,
                                        const std::string& what) {
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " file path is empty"));
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", what, " file ", Quote(path), ": ", ErrnoText(err)));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};

  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    return absl::FailedPreconditionError(
        absl::StrCat("cannot stat ", what, " file ", Quote(path), ": ", ErrnoText(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " file ", Quote(path), " is not a regular file"));
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxPemFileSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " file ", Quote(path), " is ", st.st_size,
        " bytes, more than a PEM file of ", kMaxPemFileSize, " bytes can be"));
  }
  std::string data;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot read ", what, " file ", Quote(path), ": ", ErrnoText(err)));
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > kMaxPemFileSize) {  // grew while we read it
      return absl::InvalidArgumentError(absl::StrCat(
          what, " file ", Quote(path), " is larger than ", kMaxPemFileSize, " bytes"));
    }
  }
  if (data.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " file ", Quote(path), " is empty"));
  }
  if (!absl::StrContains(data, "-----BEGIN ")) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " file ", Quote(path), " is not PEM (no '-----BEGIN' line)"));
  }
  return data;
}

BioPtr MemBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Every certificate in `pem`, in order. INVALID_ARGUMENT if there is none or
// one does not parse.
absl::StatusOr<std::vector<X509Ptr>> ParseCertificates(const std::string& pem,
                                                       const std::string& path,
                                                       const std::string& what) {
  ERR_clear_error();
  BioPtr bio = MemBio(pem);
  if (bio == nullptr) {
    return absl::ResourceExhaustedError("OpenSSL could not allocate a BIO");
  }
  std::vector<X509Ptr> certs;
  for (;;) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
    if (cert != nullptr) {
      certs.push_back(std::move(cert));
      continue;
    }
    // Running out of PEM blocks is how a well-formed file ends.
    const unsigned long e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
      ERR_clear_error();
      break;
    }
    return absl::InvalidArgumentError(
        absl::StrCat(what, " file ", Quote(path), ": certificate ", certs.size() + 1,
                     " does not parse: ", TakeOpenSslErrors()));
  }
  if (certs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " file ", Quote(path), " holds no certificate"));
  }
  return certs;
}

absl::StatusOr<PkeyPtr> ParsePrivateKey(const std::string& pem, const std::string& path) {
  ERR_clear_error();
  BioPtr bio = MemBio(pem);
  if (bio == nullptr) {
    return absl::ResourceExhaustedError("OpenSSL could not allocate a BIO");
  }
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (key == nullptr && absl::StrContains(pem, "ENCRYPTED")) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("TLS private key file ", Quote(path),
                     " is encrypted; mend needs an unencrypted key (protect it with file "
                     "permissions)"));
  }
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS private key file ", Quote(path),
                     " holds no usable private key: ", TakeOpenSslErrors()));
  }
  return key;
}

// The contents of a certificate chain file and its key file, checked: the
// chain parses, its leaf has not expired, and the key is the leaf's.
struct KeyPair {
  std::string cert_pem;
  std::string key_pem;
};

absl::StatusOr<KeyPair> LoadKeyPair(const std::string& cert_path,
                                    const std::string& key_path) {
  KeyPair pair;
  MEND_ASSIGN_OR_RETURN(pair.cert_pem, ReadPemFile(cert_path, "TLS certificate"));
  MEND_ASSIGN_OR_RETURN(pair.key_pem, ReadPemFile(key_path, "TLS private key"));
  MEND_ASSIGN_OR_RETURN(std::vector<X509Ptr> chain,
                        ParseCertificates(pair.cert_pem, cert_path, "TLS certificate"));
  MEND_ASSIGN_OR_RETURN(PkeyPtr key, ParsePrivateKey(pair.key_pem, key_path));
  X509* leaf = chain.front().get();
  if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0) {
    ERR_clear_error();
    return absl::FailedPreconditionError(absl::StrCat(
        "TLS certificate ", Quote(cert_path),
        " has expired; issue a new one (scripts/dev-certs.sh for development)"));
  }
  ERR_clear_error();
  if (X509_check_private_key(leaf, key.get()) != 1) {
    const std::string detail = TakeOpenSslErrors();
    return absl::InvalidArgumentError(absl::StrCat("TLS private key ", Quote(key_path),
                                                   " does not match certificate ",
                                                   Quote(cert_path), " (", detail, ")"));
  }
  return pair;
}

// The contents of a CA file, checked to hold at least one certificate.
absl::StatusOr<std::string> LoadCaBundle(const std::string& path) {
  MEND_ASSIGN_OR_RETURN(std::string pem, ReadPemFile(path, "TLS CA"));
  MEND_RETURN_IF_ERROR(ParseCertificates(pem, path, "TLS CA").status());
  return pem;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files) {
  if (files.cert.empty() || files.key.empty()) {
    return absl::InvalidArgumentError(
        "a TLS server needs both a certificate and a private key (--tls_cert and "
        "--tls_key)");
  }
  if (files.require_client_cert && files.ca.empty()) {
    return absl::InvalidArgumentError(
        "requiring client certificates (mutual TLS) needs the CA that issues them "
        "(--tls_ca)");
  }
  MEND_ASSIGN_OR_RETURN(KeyPair pair, LoadKeyPair(files.cert, files.key));

  grpc::SslServerCredentialsOptions options(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (!files.ca.empty()) {
    MEND_ASSIGN_OR_RETURN(options.pem_root_certs, LoadCaBundle(files.ca));
    options.client_certificate_request =
        files.require_client_cert
            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
            : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  options.pem_key_cert_pairs.push_back(
      {.private_key = std::move(pair.key_pem), .cert_chain = std::move(pair.cert_pem)});
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::SslServerCredentials(options);
  if (creds == nullptr) {
    return absl::InternalError("gRPC refused the TLS server credentials");
  }
  return creds;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const std::string& ca, const std::string& cert, const std::string& key) {
  if (cert.empty() != key.empty()) {
    return absl::InvalidArgumentError(
        "a TLS client certificate needs its private key and the other way round: give "
        "both or neither");
  }
  grpc::SslCredentialsOptions options;
  if (!ca.empty()) {
    MEND_ASSIGN_OR_RETURN(options.pem_root_certs, LoadCaBundle(ca));
  }
  if (!cert.empty()) {
    MEND_ASSIGN_OR_RETURN(KeyPair pair, LoadKeyPair(cert, key));
    options.pem_cert_chain = std::move(pair.cert_pem);
    options.pem_private_key = std::move(pair.key_pem);
  }
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::SslCredentials(options);
  if (creds == nullptr) {
    return absl::InternalError("gRPC refused the TLS channel credentials");
  }
  return creds;
}

// --- Listen addresses ----------------------------------------------------------

namespace {

enum class HostKind { kLoopback, kOther };

absl::Status Malformed(std::string_view address, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("listen address '", std::string(address),
                                                 "' is malformed: ", std::string(why)));
}

absl::Status CheckPort(std::string_view address, std::string_view port) {
  if (port.empty()) return Malformed(address, "no port after ':'");
  if (port.size() > 5) return Malformed(address, "port is not a number in [0, 65535]");
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') {
      return Malformed(address, "port is not a number in [0, 65535]");
    }
    value = value * 10 + (c - '0');
  }
  if (value > 65535) return Malformed(address, "port is not a number in [0, 65535]");
  return absl::OkStatus();
}

bool IsHostNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ||
         c == '_';
}

// Classifies the host of a "host:port" address (no brackets).
absl::StatusOr<HostKind> ClassifyHost(std::string_view address, std::string_view host) {
  if (host.empty()) return HostKind::kOther;  // ":port" listens on every interface
  const std::string h(host);
  in_addr v4;
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127 ? HostKind::kLoopback : HostKind::kOther;
  }
  for (char c : host) {
    if (!IsHostNameChar(c)) {
      return Malformed(address,
                       absl::StrCat("'", h, "' is not a host name or IPv4 address"));
    }
  }
  const std::string lower = absl::AsciiStrToLower(h);
  if (lower == "localhost" || lower == "localhost.") return HostKind::kLoopback;
  // Any other name may resolve to anything.
  return HostKind::kOther;
}

absl::StatusOr<HostKind> ClassifyIpv6(std::string_view address, std::string_view host) {
  const std::string h(host);
  in6_addr v6;
  if (inet_pton(AF_INET6, h.c_str(), &v6) != 1) {
    return Malformed(address, absl::StrCat("'[", h, "]' is not an IPv6 address"));
  }
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return HostKind::kLoopback;
  if (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127) return HostKind::kLoopback;
  return HostKind::kOther;
}

// Parses `address`: INVALID_ARGUMENT if malformed, else whether it is local.
absl::StatusOr<HostKind> ClassifyListenAddress(std::string_view address) {
  if (address.empty()) return absl::InvalidArgumentError("listen address is empty");
  for (char c : address) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) ||
        !absl::ascii_isprint(static_cast<unsigned char>(c))) {
      return Malformed(address, "contains whitespace or a control character");
    }
  }
  for (std::string_view scheme :
       {std::string_view("unix:"), std::string_view("unix-abstract:")}) {
    if (address.substr(0, scheme.size()) == scheme) {
      if (address.size() == scheme.size()) return Malformed(address, "no socket path");
      return HostKind::kLoopback;  // a unix socket never leaves the machine
    }
  }
  if (address.front() == '[') {
    const size_t close = address.find(']');
    if (close == std::string_view::npos) return Malformed(address, "no ']' after '['");
    const std::string_view rest = address.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      return Malformed(address, "no ':port' after the bracketed address");
    }
    MEND_RETURN_IF_ERROR(CheckPort(address, rest.substr(1)));
    return ClassifyIpv6(address, address.substr(1, close - 1));
  }
  const size_t colon = address.find(':');
  if (colon == std::string_view::npos) {
    return Malformed(address, "no port (write host:port, e.g. 127.0.0.1:50051)");
  }
  if (address.find(':', colon + 1) != std::string_view::npos) {
    return Malformed(address,
                     "an IPv6 address must be in brackets, e.g. [::1]:50051 (or an "
                     "unsupported scheme)");
  }
  MEND_RETURN_IF_ERROR(CheckPort(address, address.substr(colon + 1)));
  return ClassifyHost(address, address.substr(0, colon));
}

}  // namespace

absl::Status CheckListenAddress(std::string_view address, bool tls, bool allow_insecure) {
  MEND_ASSIGN_OR_RETURN(HostKind kind, ClassifyListenAddress(address));
  if (kind == HostKind::kLoopback || tls || allow_insecure) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "refusing to serve plaintext gRPC on '", std::string(address),
      "': without TLS a server listens only on loopback (127.0.0.0/8, [::1], localhost) "
      "or a unix: socket. Configure TLS with --tls_cert and --tls_key (and --tls_ca to "
      "require client certificates), or pass --allow_insecure to serve plaintext on this "
      "address anyway"));
}

}  // namespace mend
