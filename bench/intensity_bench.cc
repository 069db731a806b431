// Intensity benchmarks (issue 3):
//  1. Parsing a year of hourly data (8,784 rows, the Electricity Maps yearly
//     CSV format): --trace PATH reads a real file (e.g. ../shared/data/
//     intensity/electricitymaps-hourly-via-green-dcc/GB/GB_2024_hourly.csv);
//     without it a synthetic file of the same shape is parsed.
//  2. carbond's API latency while the intensity upstream hangs: carbond with
//     chain [mock] (baseline) against chain [uk, mock] whose uk base URL is a
//     local TCP server that accepts and never answers (request_timeout 10 s,
//     no retries). A client sends GET /v1/health and GET /v1/jobs?limit=20
//     back to back for the first 9.5 s after start (the hang) and reports p50
//     and p99. Each measurement runs --runs times; medians are printed.
//   build/bench/intensity_bench [--trace PATH] [--runs 3]
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/intensity_formats.h"
#include "bench/bench_daemon.h"
#include "bench/bench_util.h"
#include "proto-less-api/client.h"

namespace {

using Steady = std::chrono::steady_clock;

using carbon::bench::Median;
using carbon::bench::Percentile;

std::string ArgS(int argc, char** argv, const char* name, const std::string& def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return def;
}

std::string SyntheticYear() {
  std::string s =
      "Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO\u2082eq/kWh (direct),"
      "Carbon Intensity gCO\u2082eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,Data Source,"
      "Data Estimated,Data Estimation Method\n";
  char line[256];
  for (int h = 0; h < 8784; ++h) {
    int day = h / 24;
    int month = 1, d = day;
    static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    while (d >= kDays[month - 1]) d -= kDays[month++ - 1];
    std::snprintf(line, sizeof line,
                  "2024-%02d-%02d %02d:00:00,Great Britain,Great Britain,GB,%.2f,%.2f,85.53,62.7, "
                  "nationalgrideso.com; elexon.co.uk,false,\n",
                  month, d + 1, h % 24, 100.0 + h % 97, 150.0 + h % 89);
    s += line;
  }
  return s;
}

// Accepts connections and never answers; holds them open.
class HangServer {
 public:
  HangServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      while (true) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        held_.push_back(c);
        ++accepted;
      }
    });
  }
  ~HangServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    for (int c : held_) ::close(c);
  }
  int port() const { return port_; }
  std::atomic<int> accepted{0};

 private:
  int fd_;
  int port_ = 0;
  std::thread thread_;
  std::vector<int> held_;
};

struct Latency {
  double p50_ms, p99_ms;
  size_t requests;
  bool in_flight_at_end;
};

Latency MeasureApi(const std::string& extra_config) {
  auto start = Steady::now();
  carbon::bench::BenchDaemon d = carbon::bench::StartCarbond("ibench", "worker: {path: /bin/true}\n" + extra_config);
  carbon::api::Client c(d.socket);
  std::vector<double> ms;
  bool flip = false;
  while (Steady::now() - start < std::chrono::milliseconds(9500)) {
    auto t0 = Steady::now();
    auto r = c.Do("GET", flip ? "/v1/jobs?limit=20" : "/v1/health");
    flip = !flip;
    if (r.ok()) ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - t0).count());
  }
  bool in_flight = false;
  if (auto h = c.Health(); h.ok() && h->contains("intensity"))
    in_flight = (*h)["intensity"]["zones"]["GB"].value("poll_in_flight", false);
  d.Stop(SIGKILL);
  std::string rm = "rm -rf " + d.dir;
  (void)!std::system(rm.c_str());
  return {Percentile(ms, 0.5), Percentile(ms, 0.99), ms.size(), in_flight};
}

}  // namespace

int main(int argc, char** argv) {
  const std::string trace = ArgS(argc, argv, "--trace", "");
  const int runs = std::stoi(ArgS(argc, argv, "--runs", "3"));

  std::string text;
  if (trace.empty()) {
    text = SyntheticYear();
  } else {
    std::ifstream in(trace, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot open %s\n", trace.c_str());
      return 2;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  std::vector<double> parse_ms;
  size_t rows = 0;
  for (int i = 0; i < 20; ++i) {
    auto t0 = Steady::now();
    auto s = carbon::ParseIntensityCsv(text, trace.empty() ? "synthetic" : trace);
    parse_ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - t0).count());
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.status().message().c_str());
      return 1;
    }
    rows = s->size();
  }
  std::printf("parse %s: %zu rows, %zu bytes: median %.2f ms, max %.2f ms (20 runs)\n",
              trace.empty() ? "synthetic year" : trace.c_str(), rows, text.size(), Median(parse_ms),
              *std::max_element(parse_ms.begin(), parse_ms.end()));

  std::vector<double> base50, base99, hang50, hang99;
  for (int r = 0; r < runs; ++r) {
    Latency base = MeasureApi("intensity: {chain: [mock]}\n");
    HangServer hang;
    Latency hung = MeasureApi("intensity:\n  chain: [uk, mock]\n  uk: {base_url: 'http://127.0.0.1:" +
                              std::to_string(hang.port()) + "'}\n  http: {request_timeout: 10s, retries: 0}\n");
    std::printf("run %d: baseline p50 %.3f ms p99 %.3f ms (%zu requests) | upstream hanging "
                "(%d connections held, poll in flight at 9.5 s: %s) p50 %.3f ms p99 %.3f ms (%zu requests)\n",
                r + 1, base.p50_ms, base.p99_ms, base.requests, hang.accepted.load(),
                hung.in_flight_at_end ? "yes" : "no", hung.p50_ms, hung.p99_ms, hung.requests);
    base50.push_back(base.p50_ms);
    base99.push_back(base.p99_ms);
    hang50.push_back(hung.p50_ms);
    hang99.push_back(hung.p99_ms);
  }
  std::printf("medians: baseline p50 %.3f ms p99 %.3f ms; hanging upstream p50 %.3f ms p99 %.3f ms; "
              "p99 ratio %.2f\n",
              Median(base50), Median(base99), Median(hang50), Median(hang99),
              Median(hang99) / Median(base99));
  return 0;
}
