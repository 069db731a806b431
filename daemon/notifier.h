// Notifier: tells the service manager how carbond is doing. SystemdNotifier
// speaks sd_notify when NOTIFY_SOCKET is set and does nothing otherwise.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace carbon {

class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual void Ready() = 0;
  virtual void Stopping() = 0;
  virtual void Reloading() = 0;
  virtual void Watchdog() = 0;
  virtual void Status(const std::string& text) = 0;
  // The interval at which Watchdog() must be called, when a watchdog is armed.
  virtual std::optional<std::chrono::microseconds> WatchdogInterval() const = 0;
};

class SystemdNotifier final : public Notifier {
 public:
  void Ready() override;
  void Stopping() override;
  void Reloading() override;
  void Watchdog() override;
  void Status(const std::string& text) override;
  std::optional<std::chrono::microseconds> WatchdogInterval() const override;
};

}  // namespace carbon
