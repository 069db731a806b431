// Browser: Debian's headless Chromium driven over the Chrome DevTools
// Protocol (a WebSocket, Boost.Beast), for tests that must see a page as a
// person does: navigate, evaluate JavaScript in the page, take a screenshot.
// Test-only; one browser per test, blocking calls with timeouts.
#pragma once

#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace carbon::testing {

class Browser {
 public:
  // Starts Chromium with a fresh profile under `dir`; check ok() and error().
  Browser(const std::string& dir, int width, int height) : dir_(dir) {
    const std::string profile = dir + "/chromium-profile";
    std::filesystem::create_directories(profile);
    const std::string log = dir + "/chromium.log";
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* f = std::freopen(log.c_str(), "w", stderr);
      (void)f;
      (void)!std::freopen(log.c_str(), "a", stdout);
      ::setenv("HOME", dir.c_str(), 1);
      const std::string size = "--window-size=" + std::to_string(width) + "," + std::to_string(height);
      const std::string user = "--user-data-dir=" + profile;
      ::execl("/usr/bin/chromium", "chromium", "--headless", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--hide-scrollbars", "--no-first-run", "--remote-debugging-port=0",
              user.c_str(), size.c_str(), "about:blank", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Chromium writes the port and the browser's WebSocket path here.
    const std::string port_file = profile + "/DevToolsActivePort";
    std::string port, path;
    for (int i = 0; i < 300 && port.empty(); ++i) {
      std::ifstream in(port_file);
      std::string p, q;
      if (std::getline(in, p) && std::getline(in, q) && !p.empty() && !q.empty()) {
        port = p;
        path = q;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (port.empty()) {
      error_ = "chromium did not open its debugging port within 30 s; see " + log;
      return;
    }
    try {
      namespace asio = boost::asio;
      asio::ip::tcp::resolver resolver(io_);
      auto eps = resolver.resolve("127.0.0.1", port);
      ws_ = std::make_unique<Ws>(io_);
      asio::connect(ws_->next_layer(), eps);
      timeval tv{30, 0};  // no call waits for ever on a hung browser
      ::setsockopt(ws_->next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ws_->read_message_max(64 * 1024 * 1024);
      ws_->handshake("127.0.0.1:" + port, path);
      auto target = Call("Target.createTarget", {{"url", "about:blank"}}, /*session=*/false);
      auto attached = Call("Target.attachToTarget", {{"targetId", target.at("targetId")}, {"flatten", true}},
                           /*session=*/false);
      session_ = attached.at("sessionId").get<std::string>();
      Call("Runtime.enable", nlohmann::json::object());
      Call("Page.enable", nlohmann::json::object());
    } catch (const std::exception& e) {
      error_ = std::string("cannot drive chromium over DevTools: ") + e.what();
    }
  }
  ~Browser() {
    ws_.reset();
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // Loads the page and waits for its load event.
  void Navigate(const std::string& url) {
    loaded_ = false;
    Call("Page.navigate", {{"url", url}});
    for (int i = 0; i < 100 && !loaded_; ++i) Pump();
  }
  // The value of a JavaScript expression in the page (a promise is awaited);
  // an exception in the page is thrown here with its text.
  nlohmann::json Eval(const std::string& expression) {
    auto r = Call("Runtime.evaluate", {{"expression", expression}, {"returnByValue", true}, {"awaitPromise", true}});
    if (r.contains("exceptionDetails"))
      throw std::runtime_error("page exception: " + r["exceptionDetails"].dump());
    return r.at("result").value("value", nlohmann::json(nullptr));
  }
  // Polls `expression` until it is true (JavaScript truthiness) or `timeout` passes.
  bool WaitFor(const std::string& expression, std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (Eval("!!(" + expression + ")").get<bool>()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }
  // A PNG of the viewport.
  std::string Screenshot() {
    auto r = Call("Page.captureScreenshot", {{"format", "png"}});
    return Base64Decode(r.at("data").get<std::string>());
  }
  // What the page wrote to its console and its uncaught exceptions.
  const std::vector<std::string>& console() const { return console_; }
  std::string ConsoleText() const {
    std::string s;
    for (const auto& c : console_) s += c + "\n";
    return s;
  }

 private:
  using Ws = boost::beast::websocket::stream<boost::asio::ip::tcp::socket>;

  nlohmann::json Call(const std::string& method, const nlohmann::json& params, bool session = true) {
    const int id = ++next_id_;
    nlohmann::json msg = {{"id", id}, {"method", method}, {"params", params}};
    if (session) msg["sessionId"] = session_;
    ws_->text(true);
    ws_->write(boost::asio::buffer(msg.dump()));
    for (;;) {
      nlohmann::json m = Pump();
      if (m.is_object() && m.value("id", 0) == id) {
        if (m.contains("error")) throw std::runtime_error(method + ": " + m["error"].dump());
        return m.value("result", nlohmann::json::object());
      }
    }
  }
  // Reads one message; records page events on the way.
  nlohmann::json Pump() {
    boost::beast::flat_buffer buf;
    ws_->read(buf);
    auto m = nlohmann::json::parse(boost::beast::buffers_to_string(buf.data()), nullptr, false);
    if (!m.is_object()) return m;
    const std::string method = m.value("method", "");
    if (method == "Page.loadEventFired") loaded_ = true;
    if (method == "Runtime.consoleAPICalled") {
      std::string line = m["params"].value("type", "log") + ":";
      for (const auto& a : m["params"]["args"]) line += " " + (a.contains("value") ? a["value"].dump() : a.value("description", "?"));
      console_.push_back(line);
    }
    if (method == "Runtime.exceptionThrown") console_.push_back("exception: " + m["params"]["exceptionDetails"].dump());
    return m;
  }
  static std::string Base64Decode(const std::string& in) {
    std::string out;
    int val = 0, bits = -8;
    for (unsigned char c : in) {
      int d;
      if (c >= 'A' && c <= 'Z') d = c - 'A';
      else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
      else if (c >= '0' && c <= '9') d = c - '0' + 52;
      else if (c == '+') d = 62;
      else if (c == '/') d = 63;
      else continue;
      val = (val << 6) + d;
      bits += 6;
      if (bits >= 0) {
        out.push_back(static_cast<char>((val >> bits) & 0xFF));
        bits -= 8;
      }
    }
    return out;
  }

  std::string dir_;
  pid_t pid_ = -1;
  std::string error_;
  boost::asio::io_context io_;
  std::unique_ptr<Ws> ws_;
  std::string session_;
  int next_id_ = 0;
  bool loaded_ = false;
  std::vector<std::string> console_;
};

}  // namespace carbon::testing
