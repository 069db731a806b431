#include "daemon/gpucap/gpucap_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace carbon::gpucap {

StatusOr<nlohmann::json> Call(const std::string& socket_path, const nlohmann::json& request,
                              std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  if (socket_path.size() >= sizeof addr.sun_path) return InvalidArgument("socket path too long: " + socket_path);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable(std::string("socket: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return Unavailable("helper not running (connect " + socket_path + ": " + std::strerror(errno) + ")");
  const std::string line = request.dump() + "\n";
  if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
    return Unavailable("helper not answering (write " + socket_path + ": " + std::strerror(errno) + ")");
  std::string answer;
  const auto end = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (answer.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      return Unavailable("helper not answering within " + std::to_string(timeout.count()) + " ms (" + socket_path + ")");
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  nlohmann::json j = nlohmann::json::parse(answer, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("ok"))
    return Unavailable("helper gave no answer (" + socket_path + ")");
  if (!j["ok"].get<bool>()) return FailedPrecondition(j.value("error", "refused"));
  return j;
}

}  // namespace carbon::gpucap
