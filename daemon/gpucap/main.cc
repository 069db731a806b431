// carbond-gpucap: the root helper that sets GPU power limits for carbond
// (jobs' carbon.gpu_power_cap), so carbond itself stays unprivileged.
// Socket-activated by systemd (systemd/carbond-gpucap.socket) or listening
// on --socket; answers one request per connection (gpucap_server.h), only
// from carbond's uid (SO_PEERCRED), and exits after --idle-exit without one.
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "common/time_util.h"
#include "daemon/gpucap/gpucap_server.h"

namespace {

int Listen(const std::string& path, mode_t mode) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return -1;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ::unlink(path.c_str());
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::chmod(path.c_str(), mode) != 0 ||
      ::listen(fd, 16) != 0)
    return -1;
  return fd;
}

// One request: read a line (2 s at most), answer, close.
void Serve(int conn, carbon::gpucap::Server& server) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return;
  std::string line;
  char buf[4096];
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (line.find('\n') == std::string::npos && line.size() < 65536) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count();
    pollfd p{conn, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return;
    ssize_t n = ::recv(conn, buf, sizeof buf, 0);
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  line = line.substr(0, line.find('\n'));
  const std::string answer = server.Handle(line, cred.uid) + "\n";
  std::cerr << "carbond-gpucap: uid " << cred.uid << " pid " << cred.pid << ": " << line << " -> " << answer;
  if (::send(conn, answer.data(), answer.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(answer.size()))
    std::cerr << "carbond-gpucap: the answer to uid " << cred.uid << " was not delivered: " << std::strerror(errno) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"carbond-gpucap: sets GPU power limits for carbond's jobs (carbon.gpu_power_cap); "
               "run by systemd's carbond-gpucap.socket as root"};
  std::string socket_path, allow_user = "carbond", state = "/var/lib/carbond-gpucap/limits.json",
                           library = "libnvidia-ml.so.1", idle = "60s", mode_text = "0660";
  int64_t allow_uid = -1;
  app.add_option("--socket", socket_path, "listen here instead of on systemd's socket");
  app.add_option("--socket-mode", mode_text, "--socket's mode (octal)")->capture_default_str();
  app.add_option("--allow-user", allow_user, "the only user whose requests are served (carbond's)")->capture_default_str();
  app.add_option("--allow-uid", allow_uid, "the same as a uid (instead of --allow-user)");
  app.add_option("--state-file", state, "where the limits to restore are stored")->capture_default_str();
  app.add_option("--nvml-library", library, "NVML's library")->capture_default_str();
  app.add_option("--idle-exit", idle, "exit after this long without a request (0: never)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto idle_for = carbon::ParseDuration(idle, /*allow_zero=*/true);
  if (!idle_for.ok()) {
    std::cerr << "carbond-gpucap: --idle-exit: " << idle_for.status().message() << "\n";
    return 2;
  }
  if (allow_uid < 0) {
    passwd* pw = ::getpwnam(allow_user.c_str());
    if (!pw) {
      std::cerr << "carbond-gpucap: no user '" << allow_user << "' (--allow-user); carbond runs as it\n";
      return 2;
    }
    allow_uid = pw->pw_uid;
  }
  char* mode_end = nullptr;
  const unsigned long mode = std::strtoul(mode_text.c_str(), &mode_end, 8);
  if (mode_text.empty() || *mode_end != '\0' || mode > 0777) {
    std::cerr << "carbond-gpucap: --socket-mode '" << mode_text << "' is not an octal mode such as 0660\n";
    return 2;
  }
  int fd = -1;
  if (!socket_path.empty()) {
    fd = Listen(socket_path, static_cast<mode_t>(mode));
    if (fd < 0) {
      std::cerr << "carbond-gpucap: cannot listen on " << socket_path << ": " << std::strerror(errno) << "\n";
      return 1;
    }
  } else if (sd_listen_fds(1) == 1) {
    fd = SD_LISTEN_FDS_START;
  } else {
    std::cerr << "carbond-gpucap: no socket: start it through carbond-gpucap.socket, or give --socket\n";
    return 2;
  }
  auto nvml = carbon::gpucap::NvmlControl::Open(library);
  if (!nvml.ok()) std::cerr << "carbond-gpucap: " << nvml.status().message() << "; every request will say so\n";
  carbon::gpucap::Server server(nvml.ok() ? nvml->get() : nullptr, nvml.ok() ? "" : nvml.status().message(),
                                {static_cast<uid_t>(allow_uid), state, "/proc"});
  const int64_t idle_ms = idle_for->count();
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, idle_ms > 0 ? static_cast<int>(idle_ms) : -1);
    if (r == 0) return 0;  // idle: systemd starts it again on the next connection
    if (r < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    int conn = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    Serve(conn, server);
    ::close(conn);
  }
}
