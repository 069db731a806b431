// The dashboard as a person sees it: carbond with the real worker and the
// optional TCP listener; Debian's headless Chromium opens GET / and the test
// reads the page through the DevTools protocol while a job submitted during
// the test appears, runs its epochs and finishes, all without a reload.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/browser.h"
#include "common/units.h"
#include "tests/support/daemon_process.h"

namespace carbon {
namespace {

using fakes::DaemonProcess;
using fakes::TempDir;
using nlohmann::json;
using std::chrono::seconds;

constexpr const char* kData = "/usr/share/datasets/fashion-mnist";

TEST(Dashboard, ChromiumSeesAJobAppearRunAndFinishWithoutReload) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/chromium")) << "install chromium (scripts/install-deps.sh does)";
  ASSERT_TRUE(std::filesystem::exists(std::string(kData) + "/train-images-idx3-ubyte.gz"))
      << "install Debian's dataset-fashion-mnist (scripts/install-deps.sh does)";
  TempDir dir;
  DaemonProcess d(dir, CARBON_WORKER_BIN, "api: {tcp_listen: \"127.0.0.1:0\"}\n");
  ASSERT_TRUE(d.Start()) << d.Log();
  auto health = json::parse(d.Ctl({"-o", "json", "health"}).out);
  ASSERT_TRUE(health["tcp"].is_string()) << health.dump();
  const std::string url = "http://" + health["tcp"].get<std::string>() + "/";

  testing::Browser b(dir.path(), 1280, 1800);
  ASSERT_TRUE(b.ok()) << b.error();
  b.Navigate(url);
  ASSERT_TRUE(b.WaitFor("window.carbondDashboard && window.carbondDashboard.loaded", std::chrono::seconds(20)))
      << b.ConsoleText();
  ASSERT_TRUE(b.WaitFor("document.getElementById('conn').textContent === 'live'", std::chrono::seconds(10)))
      << b.ConsoleText();
  b.Eval("window.__sameDocument = 'yes'");  // a reload would lose it

  // The grid now, and the intensity chart drawn from readings and the forecast.
  EXPECT_NE(b.Eval("document.getElementById('current').textContent").get<std::string>(), "—");
  EXPECT_NE(b.Eval("document.getElementById('current-source').textContent").get<std::string>().find("mock"),
            std::string::npos);
  int forecast_points = b.Eval(
      "Math.max(0, ...[...document.querySelectorAll('#intensity-chart path.series.dashed')]"
      ".map(p => +p.dataset.points))").get<int>();
  EXPECT_GT(forecast_points, 48) << "48 h of half-hourly forecast";
  EXPECT_GE(b.Eval("document.querySelectorAll('#intensity-chart path.series:not(.dashed)').length").get<int>(), 1);
  EXPECT_EQ(b.Eval("document.querySelectorAll('#days tbody tr').length").get<int>(), 14);

  // A job submitted now appears, runs with live epochs, and finishes.
  std::string job = dir / "live.yaml";
  std::ofstream(job) << "name: live-cnn\ncarbon: {policy: immediate}\n"
                     << "data: {path: " << kData << ", train_limit: 40000, test_limit: 500}\n"
                     << "train: {epochs: 4, batch_size: 64, threads: 1}\n";
  auto sub = d.Ctl({"submit", job});
  ASSERT_EQ(sub.exit_code, 0) << sub.err;
  const std::string row = "document.querySelector('#queue tr[data-job=\"1\"]')";
  ASSERT_TRUE(b.WaitFor(row, seconds(10))) << b.ConsoleText();
  EXPECT_EQ(b.Eval(row + ".children[1].textContent").get<std::string>(), "live-cnn");
  EXPECT_EQ(b.Eval(row + ".children[3].textContent").get<std::string>(), "local");  // its site
  EXPECT_NE(b.Eval("document.getElementById('sites').textContent").get<std::string>().find("site local: zone GB, "),
            std::string::npos);
  ASSERT_TRUE(b.WaitFor(row + ".querySelector('.state').textContent === 'running'", seconds(30)))
      << b.Eval(row + ".textContent").dump() << d.Log();
  // Its live view: an epoch done, drawn in the loss and energy charts.
  const std::string live = "document.querySelector('#running .job-live[data-job=\"1\"]')";
  bool epochs_live = b.WaitFor(live + " && " + live + ".querySelectorAll('path.series').length >= 2", seconds(120));
  std::string shot_running = b.Screenshot();
  ASSERT_TRUE(epochs_live) << b.ConsoleText() << d.Log();
  EXPECT_NE(b.Eval(live + ".textContent").get<std::string>().find("Wh"), std::string::npos);  // mWh, Wh or kWh
  ASSERT_TRUE(b.WaitFor(row + ".querySelector('.state').textContent === 'succeeded'", seconds(180)))
      << b.Eval(row + ".textContent").dump() << d.Log();
  EXPECT_EQ(b.Eval("document.querySelectorAll('#running .job-live').length").get<int>(), 0);
  // The totals now hold its energy (refreshed from the events).
  ASSERT_TRUE(b.WaitFor("window.carbondDashboard.totals && window.carbondDashboard.totals.days.some(d => d.energy_kwh > 0)",
                        seconds(10)));
  // Every day has its bar; today's CO2 bar now has a height.
  EXPECT_GE(b.Eval("[...document.querySelectorAll('#totals-chart rect.bar0')]"
                   ".filter(r => +r.getAttribute('height') > 0).length").get<int>(), 1);

  // Numbers people read (issue 39): energy and CO2 in the unit that suits
  // them, three significant figures, the same as carbonctl and the report
  // (common/units.h), in the totals and every day's and week's row.
  for (double kwh : {0.0, 4.4e-6, 4.4e-7, 0.0123, 0.9996, 2.5, 12345.6, -1.008e-6}) {
    const std::string v = json(kwh).dump();
    EXPECT_EQ(b.Eval("window.carbondDashboard.fmtEnergy(" + v + ")").get<std::string>(), FormatEnergy(kwh)) << kwh;
    EXPECT_EQ(b.Eval("window.carbondDashboard.fmtCo2(" + v + ")").get<std::string>(), FormatCo2(kwh)) << kwh;
  }
  const std::string cells = b.Eval("[...document.querySelectorAll('#days td.num, #weeks td.num')]"
                                   ".map(td => td.textContent).join('|')").get<std::string>();
  EXPECT_EQ(cells.find("e-"), std::string::npos) << cells;
  EXPECT_EQ(cells.find("0.0000"), std::string::npos) << cells;
  for (const char* cell : {"tot-energy", "tot-co2"}) {
    const std::string text = b.Eval(std::string("document.getElementById('") + cell + "').textContent").get<std::string>();
    EXPECT_TRUE(text.find(" mWh") != std::string::npos || text.find(" Wh") != std::string::npos ||
                text.find(" mg") != std::string::npos || text.find(" g") != std::string::npos)
        << cell << ": " << text;
  }

  // The same page all along, updated by events only.
  EXPECT_EQ(b.Eval("window.__sameDocument").get<std::string>(), "yes");
  EXPECT_EQ(b.Eval("performance.getEntriesByType('navigation').length").get<int>(), 1);
  EXPECT_GT(b.Eval("window.carbondDashboard.events").get<int>(), 4);

  std::string shot = b.Screenshot();
  std::ofstream(dir / "dashboard.png", std::ios::binary) << shot;
  std::ofstream(dir / "dashboard-running.png", std::ios::binary) << shot_running;
  EXPECT_EQ(shot.substr(1, 3), "PNG");
  EXPECT_GT(shot.size(), 60000u) << "a blank 1280x1800 page is a few KB";
  if (const char* keep = std::getenv("CARBON_KEEP_SCREENSHOTS")) {
    std::filesystem::copy_file(dir / "dashboard.png", std::string(keep) + "/dashboard.png",
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(dir / "dashboard-running.png", std::string(keep) + "/dashboard-running.png",
                               std::filesystem::copy_options::overwrite_existing);
  }
  for (const auto& line : b.console())
    EXPECT_EQ(line.find("exception"), std::string::npos) << line;
}

}  // namespace
}  // namespace carbon
