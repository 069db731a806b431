// A throwaway single-node Slurm cluster on localhost for tests
// (tests/daemon/exec/slurm/start-cluster.sh: a private munged, slurmctld and slurmd in a
// temp dir; about 1 s to start). Needs root and Debian's slurmctld, slurmd,
// slurm-client and munge, which scripts/install-deps.sh installs.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

namespace carbon::fakes {

class SlurmCluster {
 public:
  // Why a cluster cannot start here (not root, Slurm not installed), or "".
  static std::string Unavailable() {
    if (::geteuid() != 0) return "the Slurm tests need root (a private munged and slurmd)";
    for (const char* b : {"/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch", "/usr/sbin/munged"})
      if (::access(b, X_OK) != 0)
        return std::string(b) + " is missing: scripts/install-deps.sh installs slurmctld slurmd slurm-client munge";
    return "";
  }

  SlurmCluster() {
    start_output_ = Script("start");
    const std::string& out = start_output_;
    const std::string key = "SLURM_CONF=";
    size_t at = out.rfind(key);
    if (at != std::string::npos) {
      conf_ = out.substr(at + key.size());
      while (!conf_.empty() && (conf_.back() == '\n' || conf_.back() == ' ')) conf_.pop_back();
      dir_ = conf_.substr(0, conf_.rfind('/'));
    }
  }
  ~SlurmCluster() {
    if (!dir_.empty()) Script("stop " + dir_);
  }
  bool ok() const { return !conf_.empty(); }
  // What start-cluster.sh printed (why it failed, when it did).
  const std::string& start_output() const { return start_output_; }
  const std::string& conf() const { return conf_; }
  const std::string& dir() const { return dir_; }
  void StopController() { Script("stop-controller " + dir_); }
  void StartController() { Script("start-controller " + dir_); }
  // slurmctld's log lines that name Slurm job `id`, then slurmd's (for a
  // failure's message).
  std::string ControllerLog(int64_t id) const {
    const std::string n = std::to_string(id);
    std::string out;
    for (const char* file : {"/log/slurmctld.log", "/log/slurmd.log"}) {
      std::ifstream in(dir_ + file);
      out += std::string(file) + ":\n";
      for (std::string line; std::getline(in, line);)
        for (const std::string& key : {"JobId=" + n + " ", "job " + n + " ", "[" + n + ".", "job_id " + n + " ",
                                       "JobId=" + n + ":", "job " + n + ":"})
          if ((line + " ").find(key) != std::string::npos) {
            out += line + "\n";
            break;
          }
    }
    return out;
  }

 private:
  static std::string Script(const std::string& args) {
    const std::string cmd = std::string(CARBON_SOURCE_DIR) + "/tests/daemon/exec/slurm/start-cluster.sh " + args + " 2>&1";
    std::unique_ptr<FILE, int (*)(FILE*)> p(::popen(cmd.c_str(), "r"), ::pclose);
    std::string out;
    std::array<char, 4096> buf;
    while (p && std::fgets(buf.data(), buf.size(), p.get())) out += buf.data();
    return out;
  }
  std::string conf_, dir_, start_output_;
};

// A test fixture with one cluster for all its tests (skipped, saying why,
// where no cluster can start).
class SlurmClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_ = SlurmCluster::Unavailable();
    if (skip_.empty()) cluster_ = new SlurmCluster();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_TRUE(cluster_ && cluster_->ok())
        << "the cluster did not start (tests/daemon/exec/slurm/start-cluster.sh start):\n" << (cluster_ ? cluster_->start_output() : "");
  }
  static inline SlurmCluster* cluster_ = nullptr;
  static inline std::string skip_;
};

}  // namespace carbon::fakes
