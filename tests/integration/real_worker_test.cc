// carbond with the real carbon-worker: LibTorch training on a small subset of
// Debian's Fashion-MNIST, end to end through the socket.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "tests/support/daemon_process.h"

namespace carbon {
namespace {

using fakes::DaemonProcess;
using fakes::TempDir;
using nlohmann::json;

constexpr const char* kData = "/usr/share/datasets/fashion-mnist";

TEST(RealWorker, TrainsASubsetOfFashionMnistThroughCarbond) {
  ASSERT_TRUE(std::filesystem::exists(std::string(kData) + "/train-images-idx3-ubyte.gz"))
      << "install Debian's dataset-fashion-mnist (scripts/install-deps.sh does)";
  TempDir dir;
  DaemonProcess d(dir, CARBON_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  std::string job = dir / "tiny.yaml";
  std::ofstream(job) << "name: tiny-mlp\ncarbon: {policy: immediate}\nmodel: {arch: mlp, hidden: [64]}\n"
                     << "data: {path: " << kData << ", train_limit: 2000, test_limit: 500}\n"
                     << "train: {epochs: 2, batch_size: 32, accumulation_steps: 4, lr: 0.002, "
                        "threads: 1}\n";
  auto sub = d.Ctl({"submit", job});
  ASSERT_EQ(sub.exit_code, 0) << sub.err;
  auto w = d.Ctl({"watch", "1", "--timeout", "300"});
  ASSERT_EQ(w.exit_code, 0) << w.out << w.err << d.Log();
  EXPECT_NE(w.out.find("EPOCH ATTEMPT TRAIN_LOSS"), std::string::npos) << w.out;
  json j = json::parse(d.Ctl({"-o", "json", "status", "1"}).out);
  EXPECT_EQ(j["state"], "succeeded");
  ASSERT_TRUE(j["progress"].is_object());
  EXPECT_EQ(j["progress"]["event"], "finished");
  // Ten classes: chance is 10 %; two epochs on 2,000 images reach far more.
  EXPECT_GT(j["progress"]["test_accuracy"].get<double>(), 0.5) << j.dump();
  ASSERT_EQ(j["epochs"].size(), 2u) << j.dump();
  EXPECT_EQ(j["epochs"][1]["epoch"], 2);
  EXPECT_GT(j["epochs"][1]["peak_memory_bytes"].get<int64_t>(), 0);
  // What training added is stored beside the peak and is a part of it.
  ASSERT_TRUE(j["epochs"][1]["memory_added_bytes"].is_number_integer()) << j["epochs"][1].dump();
  EXPECT_GE(j["epochs"][1]["memory_added_bytes"].get<int64_t>(), 0);
  EXPECT_LT(j["epochs"][1]["memory_added_bytes"].get<int64_t>(), j["epochs"][1]["peak_memory_bytes"].get<int64_t>());
  EXPECT_DOUBLE_EQ(j["epochs"][1]["test_accuracy"].get<double>(),
                   j["progress"]["test_accuracy"].get<double>());
  // Energy per epoch, CodeCarbon's methodology, and its emissions at the
  // intensity carbond recorded (the embedded mock) during the epoch.
  for (const auto& ep : j["epochs"]) {
    const auto& en = ep["energy"];
    EXPECT_GT(en["energy_kwh"].get<double>(), 0) << ep.dump();
    EXPECT_GT(en["cpu_kwh"].get<double>(), 0) << ep.dump();
    EXPECT_GT(en["ram_kwh"].get<double>(), 0) << ep.dump();
    EXPECT_TRUE(en["cpu_method"] == "rapl" || en["cpu_method"] == "tdp-model") << ep.dump();
    EXPECT_EQ(en["ram_method"], "ram-model");
    EXPECT_EQ(en["gpu_method"], "unavailable");  // a CPU run
    EXPECT_DOUBLE_EQ(en["energy_kwh"].get<double>(),
                     en["cpu_kwh"].get<double>() + en["gpu_kwh"].get<double>() + en["ram_kwh"].get<double>());
    ASSERT_TRUE(ep["gco2_per_kwh"].is_number()) << ep.dump();
    EXPECT_GT(ep["gco2_per_kwh"].get<double>(), 0);
    EXPECT_NEAR(ep["kg_co2"].get<double>(),
                en["energy_kwh"].get<double>() * ep["gco2_per_kwh"].get<double>() / 1000, 1e-15);
    EXPECT_EQ(ep["zone"], "GB");
    // The worker charged each sampling interval at the reading carbond gave it.
    EXPECT_EQ(ep["intensity_source"], "mock") << ep.dump();
  }
  // CodeCarbon-compatible files in the run directory: a row per epoch, and the run as one row.
  {
    std::ifstream csv(j["run_dir"].get<std::string>() + "/emissions.csv");
    std::vector<std::string> lines;
    for (std::string l; std::getline(csv, l);) lines.push_back(l);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0].rfind("timestamp,project_name,run_id,experiment_id,duration,emissions,", 0), 0u);
    EXPECT_EQ(std::count(lines[1].begin(), lines[1].end(), ','), 37);
    std::ifstream js(j["run_dir"].get<std::string>() + "/emissions-total.json");
    auto rows = nlohmann::ordered_json::parse(js);  // ordered: the file keeps CodeCarbon's key order
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0]["project_name"], "tiny-mlp");
    EXPECT_NEAR(rows[0]["emissions"].get<double>(),
                j["epochs"][0]["kg_co2"].get<double>() + j["epochs"][1]["kg_co2"].get<double>(), 1e-15);
    EXPECT_EQ(rows[0].begin().key(), "timestamp");
    // The same rows over the API.
    std::ifstream again(j["run_dir"].get<std::string>() + "/emissions.csv");
    std::stringstream file;
    file << again.rdbuf();
    auto exported = d.Ctl({"emissions", "1"});
    ASSERT_EQ(exported.exit_code, 0) << exported.err;
    EXPECT_EQ(exported.out, file.str());
    EXPECT_EQ(json::parse(d.Ctl({"-o", "json", "emissions", "1"}).out).size(), 2u);
    std::ifstream total_file(j["run_dir"].get<std::string>() + "/emissions-total.csv");
    std::stringstream total_text;
    total_text << total_file.rdbuf();
    EXPECT_EQ(d.Ctl({"emissions", "1", "--total"}).out, total_text.str());
    // CodeCarbon's dashboard reads the file (tests/tools/carbonboard_summary.py, with Debian's
    // python3-pandas): one project, the epochs' totals as SQLite holds them, a country it can
    // upper-case, and the machine that trained.
    const std::string cmd = std::string("/usr/bin/python3 ") + CARBON_SOURCE_DIR +
                            "/tests/tools/carbonboard_summary.py " + j["run_dir"].get<std::string>() +
                            "/emissions.csv 2>&1";
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
      char buf[4096];
      for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
      EXPECT_EQ(::pclose(p), 0) << out << "\n(install python3-pandas: scripts/install-deps.sh does)";
    }
    auto board = json::parse(out, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(board.is_object() && board.contains("tiny-mlp")) << out;
    const json& s = board["tiny-mlp"];
    double kg = 0, kwh = 0, secs = 0;
    for (const auto& ep : j["epochs"]) {
      kg += ep["kg_co2"].get<double>();
      kwh += ep["energy"]["energy_kwh"].get<double>();
      secs += ep["energy"]["seconds"].get<double>();
    }
    EXPECT_EQ(s["rows"], 2);
    EXPECT_NEAR(s["emissions"].get<double>(), kg, kg * 1e-12);
    EXPECT_NEAR(s["energy_consumed"].get<double>(), kwh, kwh * 1e-12);
    EXPECT_NEAR(s["duration"].get<double>(), secs, secs * 1e-12);
    EXPECT_EQ(s["country_iso_code"], "GBR");
    // GB is a country: no region, as CodeCarbon leaves it (pandas reads the empty cell as NaN).
    EXPECT_EQ(s["location"], "nan, United Kingdom");
    const json& host = j["epochs"][1]["host"];
    EXPECT_EQ(s["cpu_model"], host["cpu_model"]) << host.dump();
    EXPECT_EQ(s["cpu_count"], host["cpu_count"]);
    EXPECT_GE(host["cpu_count"].get<int>(), 1);
    EXPECT_GT(s["ram_total_size"].get<double>(), 0.5);
    EXPECT_EQ(s["os"].get<std::string>().rfind("Linux-", 0), 0u) << s.dump();
    // A percentage (an epoch this short may span too few /proc/stat ticks to show its load).
    EXPECT_GE(s["cpu_utilization_percent"].get<double>(), 0.0);
    EXPECT_LE(s["cpu_utilization_percent"].get<double>(), 100.0);
    EXPECT_GT(s["ram_used_gb"].get<double>(), 0.0);
  }
  auto status = d.Ctl({"status", "1"});
  EXPECT_NE(status.out.find("epochs (memory: peak-rss"), std::string::npos) << status.out;
  std::string run = j["run_dir"];
  EXPECT_TRUE(std::filesystem::exists(run + "/checkpoint-2-0.pt"));
  EXPECT_TRUE(std::filesystem::exists(run + "/checkpoint-1-0.pt"));
  std::ifstream log(run + "/worker.log");
  std::stringstream ss;
  ss << log.rdbuf();
  EXPECT_NE(ss.str().find("epoch 2/2"), std::string::npos) << ss.str();
}

TEST(RealWorker, CarbonBudgetStopsTheRunAfterACheckpoint) {
  TempDir dir;
  DaemonProcess d(dir, CARBON_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  std::string job = dir / "budget.yaml";
  // A budget no run of 4 epochs can meet (a microgram): stopped after epoch 1.
  std::ofstream(job) << "name: over-budget\ncarbon: {policy: immediate, budget_kg: 1.0e-9}\n"
                     << "model: {arch: mlp, hidden: [32]}\n"
                     << "data: {path: " << kData << ", train_limit: 1000, test_limit: 200}\n"
                     << "train: {epochs: 4, batch_size: 50, threads: 1}\n";
  ASSERT_EQ(d.Ctl({"submit", job}).exit_code, 0);
  EXPECT_EQ(d.Ctl({"wait", "1", "--timeout", "300"}).exit_code, 1);
  json j = json::parse(d.Ctl({"-o", "json", "status", "1"}).out);
  EXPECT_EQ(j["state"], "stopped_budget") << j.dump();
  const std::string reason = j["reason"];
  EXPECT_NE(reason.find("carbon budget 1e-09 kg: predicted"), std::string::npos) << reason;
  EXPECT_NE(reason.find("after a checkpoint"), std::string::npos) << reason;
  ASSERT_GE(j["epochs"].size(), 1u);
  EXPECT_LT(j["epochs"].size(), 4u);
  bool checkpoint = false;
  for (const auto& f : std::filesystem::directory_iterator(j["run_dir"].get<std::string>()))
    checkpoint |= f.path().filename().string().rfind("checkpoint-", 0) == 0;
  EXPECT_TRUE(checkpoint);
  auto csv = d.Ctl({"emissions", "1", "--total"});
  EXPECT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_NE(csv.out.find(",over-budget,carbond-job-1,"), std::string::npos) << csv.out;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t i = text.find(what); i != std::string::npos; i = text.find(what, i + 1)) ++n;
  return n;
}

// The README's demo, reduced to tiny data: a 17:00 virtual clock that skips
// idle time, the carbon-aware job with its baseline twin, the comparison and
// the report, rendered by headless Chromium.
TEST(RealWorker, DemoPipelineWithBaselineCompareAndReport) {
  TempDir dir;
  DaemonProcess d(dir, CARBON_WORKER_BIN,
                  "clock: {mode: virtual, start: 2026-11-26T17:00:00Z, speed: 1, skip_idle: true}\n");
  ASSERT_TRUE(d.Start()) << d.Log();
  std::string job = dir / "aware.yaml";
  std::ofstream(job) << "name: aware\nmodel: {arch: mlp, hidden: [32]}\n"
                     << "data: {path: " << kData << ", train_limit: 1000, test_limit: 200}\n"
                     << "train: {epochs: 2, batch_size: 64, accumulation_steps: 4, threads: 1}\n"
                     << "carbon: {policy: forecast, zone: GB, max_wait: 12h, expected_duration: 10m}\n";
  auto sub = d.Ctl({"submit", "--with-baseline", job});
  ASSERT_EQ(sub.exit_code, 0) << sub.err;
  const std::string id = sub.out.substr(0, sub.out.find('\n'));
  EXPECT_NE(sub.err.find("queued with its baseline twin"), std::string::npos) << sub.err;
  ASSERT_EQ(d.Ctl({"wait", id, "--timeout", "300"}).exit_code, 0) << d.Log();
  json c = json::parse(d.Ctl({"-o", "json", "compare", id}).out);
  EXPECT_EQ(c["baseline"]["name"], "aware-baseline");
  EXPECT_EQ(c["baseline"]["policy"], "immediate");
  EXPECT_EQ(c["baseline"]["state"], "succeeded");
  // The candidate waited for the night (skipped, not slept) and ran on a cleaner grid.
  EXPECT_GT(c["candidate"]["wait_s"].get<double>(), 4 * 3600) << c.dump(2);
  EXPECT_LT(c["candidate"]["run_gco2_per_kwh"].get<double>(), c["baseline"]["run_gco2_per_kwh"].get<double>());
  // Energy is the machine's (CodeCarbon's machine mode), so on a shared test
  // machine it varies run to run; each run's CO2 is its energy at its intensity.
  for (const char* run : {"baseline", "candidate"})
    EXPECT_NEAR(c[run]["kg_co2"].get<double>(),
                c[run]["energy_kwh"].get<double>() * c[run]["run_gco2_per_kwh"].get<double>() / 1000,
                1e-12 * c[run]["kg_co2"].get<double>() + 1e-18)
        << run;
  EXPECT_GT(c["baseline"]["submit_gco2_per_kwh"].get<double>(), 0);
  EXPECT_TRUE(c["candidate_savings"].is_object());
  auto text = d.Ctl({"compare", id});
  EXPECT_NE(text.out.find("CARBON SAVINGS vs BASELINE"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Intensity during training (g/kWh)"), std::string::npos) << text.out;

  const std::string html = dir / "report.html", md = dir / "report.md";
  auto rep = d.Ctl({"report", id, "--html", html, "--md", md});
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  std::stringstream h, m;
  h << std::ifstream(html).rdbuf();
  m << std::ifstream(md).rdbuf();
  const std::string page = h.str();
  EXPECT_EQ(Count(page, "<svg class=\"chart\""), 7u);  // 2 intensity, energy, CO2, loss, accuracy, memory
  EXPECT_EQ(Count(page, "aria-label=\"Grid intensity: job"), 2u);
  for (const char* label : {"Energy per epoch", "CO2 per epoch", "Loss", "Test accuracy", "Peak memory",
                            "Carbon savings vs baseline", "forecast at submission", "recorded (GB)"})
    EXPECT_NE(page.find(label), std::string::npos) << label;
  EXPECT_GE(Count(page, "<polyline class=\"series\""), 6u);
  EXPECT_EQ(page.find("points=\"\""), std::string::npos);  // no empty series
  EXPECT_GE(Count(page, "<rect class=\"bar\""), 10u);       // 2 runs x 2 epochs x 2 + 2 memory bars
  // Every legend lies below its chart's plot area (issue 39: it was drawn
  // over the forecast and the loss curves), and every chart has one.
  {
    const std::regex chart("<svg class=\"chart\"[^>]*data-plot-bottom=\"([0-9]+)\"[^>]*>(.*?)</svg>");
    const std::regex legend("<text class=\"legend\" x=\"[0-9.]+\" y=\"([0-9.]+)\"");
    int charts = 0, legends = 0;
    for (std::sregex_iterator svg(page.begin(), page.end(), chart), end; svg != end; ++svg) {
      ++charts;
      const double plot_bottom = std::stod((*svg)[1]);
      const std::string body = (*svg)[2];
      for (std::sregex_iterator l(body.begin(), body.end(), legend); l != end; ++l) {
        ++legends;
        EXPECT_GT(std::stod((*l)[1]), plot_bottom + 40) << "a legend over the plot of " << body.substr(0, 200);
      }
    }
    EXPECT_GE(charts, 5);
    EXPECT_GE(legends, charts);
  }
  EXPECT_EQ(page.find("http://"), page.find("http://www.w3.org/2000/svg"));  // nothing to fetch
  EXPECT_NE(m.str().find("| CO2 | "), std::string::npos) << m.str();  // its cells carry the unit

  // Rendered by a real browser: the screenshot of the page is far from blank.
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/chromium")) << "install chromium (scripts/install-deps.sh does)";
  const std::string png = dir / "report.png";
  const std::string cmd = "HOME=" + dir.path() + " /usr/bin/chromium --headless --no-sandbox --disable-gpu " +
                          "--disable-dev-shm-usage --hide-scrollbars --window-size=820,2600 --screenshot=" + png +
                          " file://" + html + " >" + dir.path() + "/chromium.log 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream shot(png, std::ios::binary | std::ios::ate);
  ASSERT_TRUE(shot.good());
  EXPECT_GT(static_cast<int64_t>(shot.tellg()), 60000) << "a blank 820x2600 page is a few KB";
}

TEST(RealWorker, BadDataPathFailsWithoutRetryAndSaysWhy) {
  TempDir dir;
  DaemonProcess d(dir, CARBON_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  std::string job = dir / "nodata.yaml";
  std::ofstream(job) << "name: nodata\ncarbon: {policy: immediate}\ndata: {path: " << (dir / "state/datasets/nothing") << "}\n";
  // A path that does not exist where the job may run is refused at once.
  auto refused = d.Ctl({"submit", job});
  EXPECT_EQ(refused.exit_code, 1);  // refused by carbond (HTTP 400)
  EXPECT_NE(refused.err.find("data.path '" + (dir / "state/datasets/nothing") +
                             "' does not exist on this machine, where site local runs its jobs"),
            std::string::npos)
      << refused.err;
  // One that exists but holds no dataset fails at the start, without retry.
  std::filesystem::create_directories(dir / "state/datasets/nothing");
  ASSERT_EQ(d.Ctl({"submit", job}).exit_code, 0);
  EXPECT_EQ(d.Ctl({"wait", "1", "--timeout", "60"}).exit_code, 1);
  json j = json::parse(d.Ctl({"-o", "json", "status", "1"}).out);
  EXPECT_EQ(j["state"], "failed");
  EXPECT_EQ(j["attempts"], 1);
  EXPECT_NE(j["error"].get<std::string>().find("not found"), std::string::npos) << j.dump();
}

// The worker checks every data file it opens: a data directory inside the
// roots whose files are links to somewhere outside them is refused, without
// retry, before anything is read.
TEST(RealWorker, DataFilesLinkedFromOutsideTheRootsAreRefused) {
  TempDir dir;
  const std::string root = dir / "datasets";
  std::filesystem::create_directories(root + "/fm");
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                        "t10k-labels-idx1-ubyte.gz"})
    std::filesystem::create_symlink(std::string(kData) + "/" + f, root + "/fm/" + f);
  DaemonProcess d(dir, CARBON_WORKER_BIN, "  data_roots: [" + root + "]\n");
  ASSERT_TRUE(d.Start()) << d.Log();
  std::string job = dir / "linked.yaml";
  std::ofstream(job) << "name: linked\ncarbon: {policy: immediate}\ndata: {path: " << root << "/fm, train_limit: 100}\n";
  ASSERT_EQ(d.Ctl({"submit", job}).exit_code, 0);
  EXPECT_EQ(d.Ctl({"wait", "1", "--timeout", "60"}).exit_code, 1);
  json j = json::parse(d.Ctl({"-o", "json", "status", "1"}).out);
  EXPECT_EQ(j["state"], "failed");
  EXPECT_EQ(j["attempts"], 1);
  EXPECT_NE(j["error"].get<std::string>().find("train-images-idx3-ubyte.gz' resolves to '" + std::string(kData) +
                                               "/train-images-idx3-ubyte.gz', which is outside"),
            std::string::npos)
      << j.dump();
}

// worker.memory_limit: a worker whose resident memory passes the limit is
// killed and its job failed without retry, with the figures; a job that fits
// runs under the same limit, and carbond is unaffected. The whole training
// set as float32 is 188 MB on top of LibTorch (about 370 MB resident in all);
// 1,000 images stay near 200 MB.
TEST(RealWorker, MemoryLimitKillsTheWorkerAndFailsTheJobWithoutRetry) {
  TempDir dir;
  DaemonProcess d(dir, CARBON_WORKER_BIN, "  memory_limit: 288MiB\n  max_attempts: 3\n");
  ASSERT_TRUE(d.Start()) << d.Log();
  std::string big = dir / "big.yaml", small = dir / "small.yaml";
  std::ofstream(big) << "name: big\ncarbon: {policy: immediate}\ndata: {path: " << kData
                     << ", test_limit: 200}\ntrain: {epochs: 3, threads: 1}\n";
  std::ofstream(small) << "name: small\ncarbon: {policy: immediate}\ndata: {path: " << kData
                       << ", train_limit: 1000, test_limit: 200}\ntrain: {epochs: 1, threads: 1}\n";
  ASSERT_EQ(d.Ctl({"submit", big}).exit_code, 0);
  EXPECT_EQ(d.Ctl({"wait", "1", "--timeout", "120"}).exit_code, 1);
  json j = json::parse(d.Ctl({"-o", "json", "status", "1"}).out);
  EXPECT_EQ(j["state"], "failed");
  EXPECT_EQ(j["attempts"], 1) << "an out-of-memory job was retried";
  const std::string reason = j["reason"];
  EXPECT_NE(reason.find("out of memory on attempt 1, not retried (killed by signal 9 (SIGKILL) by carbond: its memory ("),
            std::string::npos)
      << reason;
  EXPECT_NE(reason.find("MiB resident) exceeded worker.memory_limit (288 MiB)"), std::string::npos) << reason;
  EXPECT_NE(d.Log().find("over worker.memory_limit 288 MiB; killing it"), std::string::npos) << d.Log();
  ASSERT_EQ(d.Ctl({"submit", small}).exit_code, 0);
  auto w = d.Ctl({"wait", "2", "--timeout", "120"});
  EXPECT_EQ(w.exit_code, 0) << w.out << w.err << d.Log();
  EXPECT_EQ(d.Ctl({"health"}).exit_code, 0);
}

}  // namespace
// Two local sites in different grids (issue 17): the mock's GB and JP
// zones follow the same daily cycle nine hours apart. At 17:00 UTC GB nears
// its evening peak while JP nears its night-time trough (18:00 UTC), so a
// job that may run at either, within 4 h, is placed in JP, and its saving
// against starting at once in GB (its first-listed site) is mostly place.
TEST(RealWorker, AJobOverTwoSitesRunsAtTheCleanerOneAndSplitsItsSaving) {
  TempDir dir;
  DaemonProcess d(dir, CARBON_WORKER_BIN,
                  "  max_concurrent_jobs: 1\nsites:\n  - {name: london, executor: local, zone: GB}\n"
                  "  - {name: tokyo, executor: local, zone: JP}\n"
                  "clock: {mode: virtual, start: 2026-11-26T17:00:00Z, skip_idle: true}\n");
  ASSERT_TRUE(d.Start()) << d.Log();
  // Both zones are polled, side by side.
  auto in = d.Ctl({"intensity"});
  EXPECT_EQ(in.exit_code, 0) << in.err;
  EXPECT_NE(in.out.find("GB"), std::string::npos) << in.out;
  EXPECT_NE(in.out.find("JP"), std::string::npos) << in.out;
  EXPECT_NE(in.out.find("tokyo"), std::string::npos) << in.out;
  std::string job = dir / "placed.yaml";
  std::ofstream(job) << "name: placed\ncarbon: {policy: forecast, expected_duration: 10m, max_wait: 4h, "
                        "sites: [london, tokyo]}\nmodel: {arch: mlp, hidden: [32]}\n"
                     << "data: {path: " << kData << ", train_limit: 1000, test_limit: 200}\n"
                     << "train: {epochs: 1, batch_size: 32, threads: 1}\n";
  ASSERT_EQ(d.Ctl({"submit", job}).exit_code, 0);
  ASSERT_EQ(d.Ctl({"wait", "1", "--timeout", "300"}).exit_code, 0) << d.Log();
  json j = json::parse(d.Ctl({"-o", "json", "status", "1"}).out);
  EXPECT_EQ(j["state"], "succeeded");
  EXPECT_EQ(j["site"], "tokyo");
  bool placed = false;
  for (const auto& e : j["events"])
    if (e["to"] == "running") placed = e["reason"].get<std::string>().find("site tokyo: ") == 0;
  EXPECT_TRUE(placed) << j["events"].dump();
  ASSERT_TRUE(j["savings"].is_object()) << j.dump();
  EXPECT_EQ(j["savings"]["zone"], "JP");
  EXPECT_EQ(j["savings"]["baseline_zone"], "GB");
  const double total = j["savings"]["saving_pct"].get<double>(), time = j["savings"]["time_saving_pct"].get<double>(),
               place = j["savings"]["place_saving_pct"].get<double>();
  EXPECT_GT(total, 0) << j["savings"].dump();
  EXPECT_GT(place, time) << j["savings"].dump();
  EXPECT_NEAR(time + place, total, 1e-9);
  auto st = d.Ctl({"status", "1"});
  EXPECT_NE(st.out.find("site:          tokyo"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("against starting at once in zone GB"), std::string::npos) << st.out;
}

}  // namespace carbon
