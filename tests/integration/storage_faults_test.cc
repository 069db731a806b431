// Storage faults under a running carbond: the database locked by another
// process, the state directory's file system full, and remounted read-only.
// Each time: a clear error to the client, carbond stays up, /v1/health says
// degraded and why, nothing stored is lost or corrupted, and it recovers by
// itself once the fault is gone. The disk tests mount a small tmpfs (root).
#include <sys/mount.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "daemon/store/db.h"
#include "tests/support/daemon_process.h"

namespace carbon {
namespace {

using fakes::DaemonProcess;
using fakes::TempDir;
using fakes::WriteJob;

// Waits for the forecast window: the jobs stay in the database untouched.
constexpr const char* kWaits = "carbon: {policy: forecast, max_wait: 12h}\n";
using nlohmann::json;

json Health(DaemonProcess& d) { return json::parse(d.Ctl({"-o", "json", "health"}).out); }

std::vector<std::string> Names(DaemonProcess& d) {
  json list = json::parse(d.Ctl({"-o", "json", "list"}).out);
  if (list.is_object()) list = list["jobs"];
  std::vector<std::string> names;
  for (const auto& j : list) names.push_back(j["name"]);
  return names;
}

std::string IntegrityCheck(const std::string& path) {
  sql::OpenOptions o;
  o.read_only = true;
  auto db = sql::Database::Open(path, o);
  if (!db.ok()) return db.status().ToString();
  auto st = (*db)->Prepare("PRAGMA integrity_check");
  if (!st.ok() || !*st->Step()) return "no answer";
  return st->ColumnText(0);
}

TEST(StorageFaults, DatabaseLockedByAnotherProcessIsReportedAndRecovered) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  ASSERT_EQ(d.Ctl({"submit", WriteJob(dir, "before", kWaits)}).exit_code, 0);

  {
    // Another process takes the write lock and keeps it.
    auto other = sql::Database::Open(d.db());
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE((*other)->Exec("BEGIN EXCLUSIVE").ok());
    auto r = d.Ctl({"submit", WriteJob(dir, "during", kWaits)});
    EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
    EXPECT_NE(r.err.find("another process holds the database lock"), std::string::npos) << r.err;
    json h = Health(d);
    EXPECT_EQ(h["status"], "degraded") << h.dump();
    EXPECT_EQ(h["database"]["ok"], false);
    EXPECT_NE(h["database"]["error"].get<std::string>().find("database lock"), std::string::npos) << h.dump();
    ASSERT_TRUE((*other)->Exec("ROLLBACK").ok());
  }
  // Released: the next write works and health is back.
  ASSERT_EQ(d.Ctl({"submit", WriteJob(dir, "after", kWaits)}).exit_code, 0) << d.Log();
  EXPECT_EQ(Health(d)["status"], "ok");
  EXPECT_EQ(Names(d), (std::vector<std::string>{"before", "after"}));
  EXPECT_EQ(IntegrityCheck(d.db()), "ok");
}

// A tmpfs of `size` on `path`, unmounted (after carbond is gone) at the end.
class SmallDisk {
 public:
  SmallDisk(const std::string& path, const std::string& size) : path_(path) {
    std::filesystem::create_directories(path);
    mounted_ = ::mount("tmpfs", path.c_str(), "tmpfs", 0, ("size=" + size + ",mode=0755").c_str()) == 0;
    error_ = mounted_ ? "" : std::string("mount tmpfs: ") + std::strerror(errno);
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  bool Remount(bool read_only) {
    return ::mount("tmpfs", path_.c_str(), "tmpfs", MS_REMOUNT | (read_only ? MS_RDONLY : 0), nullptr) == 0;
  }

 private:
  std::string path_, error_;
  bool mounted_ = false;
};

// Fills the file system with one file until it is full.
void Fill(const std::string& file) {
  std::ofstream out(file, std::ios::binary);
  std::string block(64 * 1024, 'x');
  while (out.write(block.data(), static_cast<std::streamsize>(block.size())) && out.flush()) {
  }
}

TEST(StorageFaults, DiskFullIsReportedNothingIsCorruptedAndItRecovers) {
  TempDir dir;
  SmallDisk disk(dir / "state", "4m");
  if (!disk.mounted()) GTEST_SKIP() << disk.error() << " (needs root)";
  DaemonProcess d(dir, FAKE_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  ASSERT_EQ(d.Ctl({"submit", WriteJob(dir, "before", kWaits)}).exit_code, 0);

  Fill(dir / "state/filler");
  auto r = d.Ctl({"submit", WriteJob(dir, "during", kWaits)});
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.err.find("disk full"), std::string::npos) << r.err << d.Log();
  json h = Health(d);
  EXPECT_EQ(h["status"], "degraded") << h.dump();
  EXPECT_NE(h["database"]["error"].get<std::string>().find("disk full"), std::string::npos) << h.dump();
  EXPECT_EQ(Names(d), (std::vector<std::string>{"before"})) << "reads still work";

  std::filesystem::remove(dir / "state/filler");
  ASSERT_EQ(d.Ctl({"submit", WriteJob(dir, "after", kWaits)}).exit_code, 0) << d.Log();
  EXPECT_EQ(Health(d)["status"], "ok");
  EXPECT_EQ(Names(d), (std::vector<std::string>{"before", "after"}));
  d.Kill(SIGTERM);
  EXPECT_EQ(IntegrityCheck(d.db()), "ok");
}

// Linux does not let a file system become read-only while carbond holds the
// database open for writing (remount gives EBUSY), so the read-only case is
// a state directory that is read-only when carbond starts (a file system
// mounted ro after errors, say): a clear start-up error naming the path, the
// database untouched, and a normal start once it is writable again.
TEST(StorageFaults, ReadOnlyStateDirectoryIsAClearStartupErrorAndChangesNothing) {
  TempDir dir;
  SmallDisk disk(dir / "state", "16m");
  if (!disk.mounted()) GTEST_SKIP() << disk.error() << " (needs root)";
  DaemonProcess d(dir, FAKE_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  ASSERT_EQ(d.Ctl({"submit", WriteJob(dir, "before", kWaits)}).exit_code, 0);
  d.Kill(SIGTERM);

  ASSERT_TRUE(disk.Remount(/*read_only=*/true)) << std::strerror(errno);
  EXPECT_FALSE(d.Start());
  std::string log = d.Log();
  EXPECT_NE(log.find(dir / "state"), std::string::npos) << log;
  EXPECT_NE(log.find("Read-only file system"), std::string::npos) << log;
  EXPECT_NE(log.find("needs a writable state directory"), std::string::npos) << log;

  ASSERT_TRUE(disk.Remount(/*read_only=*/false)) << std::strerror(errno);
  EXPECT_EQ(IntegrityCheck(d.db()), "ok");
  ASSERT_TRUE(d.Start()) << d.Log();
  EXPECT_EQ(Health(d)["status"], "ok");
  ASSERT_EQ(d.Ctl({"submit", WriteJob(dir, "after", kWaits)}).exit_code, 0);
  EXPECT_EQ(Names(d), (std::vector<std::string>{"before", "after"}));
}

}  // namespace
}  // namespace carbon
