#include <systemd/sd-daemon.h>

#include "daemon/notifier.h"

namespace carbon {

void SystemdNotifier::Ready() { sd_notify(0, "READY=1"); }
void SystemdNotifier::Stopping() { sd_notify(0, "STOPPING=1"); }
void SystemdNotifier::Reloading() { sd_notify(0, "RELOADING=1"); }
void SystemdNotifier::Watchdog() { sd_notify(0, "WATCHDOG=1"); }
void SystemdNotifier::Status(const std::string& text) {
  sd_notifyf(0, "STATUS=%s", text.c_str());
}
std::optional<std::chrono::microseconds> SystemdNotifier::WatchdogInterval() const {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) return std::chrono::microseconds(usec);
  return std::nullopt;
}

}  // namespace carbon
