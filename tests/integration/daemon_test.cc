// carbond as a real process on a temp dir and a real unix socket, driven by
// the real carbonctl. The worker is the test double tests/support/fake_worker.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "daemon/store/db.h"
#include "proto-less-api/client.h"
#include "tests/support/daemon_process.h"
#include "tests/support/files.h"

namespace carbon {
namespace {

using fakes::DaemonProcess;
using fakes::StateIs;
using fakes::Submit;
using fakes::TempDir;
using fakes::WaitFor;
using fakes::WriteJob;
using nlohmann::json;

TEST(Daemon, SubmitListStatusWaitAndSqliteHistory) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  int64_t id = Submit(d, WriteJob(dir, "quick"));
  EXPECT_EQ(id, 1);
  auto w = d.Ctl({"wait", "1", "--timeout", "20"});
  EXPECT_EQ(w.exit_code, 0) << w.out << w.err;
  EXPECT_NE(w.out.find("succeeded"), std::string::npos) << w.out;

  auto list = d.Ctl({"list"});
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find("quick"), std::string::npos);
  EXPECT_NE(list.out.find("succeeded"), std::string::npos);
  auto lj = json::parse(d.Ctl({"-o", "json", "list", "--state", "succeeded"}).out);
  ASSERT_EQ(lj["jobs"].size(), 1u);
  // Global flags after the subcommand too, as kubectl and docker take them.
  auto after = d.Ctl({"list", "-o", "json", "--state", "succeeded"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(json::parse(after.out)["jobs"], lj["jobs"]);
  auto after_long = fakes::RunCommand({CARBONCTL_BIN, "status", "1", "--output=json", "--socket", d.socket()});
  ASSERT_EQ(after_long.exit_code, 0) << after_long.err;
  EXPECT_EQ(json::parse(after_long.out)["id"], 1);
  EXPECT_EQ(d.Ctl({"list", "-o", "yaml"}).exit_code, 2);  // still checked where it stands

  auto st = d.Ctl({"status", "1"});
  EXPECT_NE(st.out.find("queued -> waiting"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("running -> succeeded"), std::string::npos) << st.out;
  json sj = json::parse(d.Ctl({"-o", "json", "status", "1"}).out);
  EXPECT_EQ(sj["progress"]["event"], "finished");
  EXPECT_EQ(sj["attempts"], 1);

  // A person at the sqlite3 prompt sees the same history.
  auto db = sql::Database::Open(d.db(), {5000, /*read_only=*/true});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto q = (*db)->Prepare("SELECT state, run_s IS NOT NULL FROM job_summary WHERE id = 1");
  ASSERT_TRUE(*q->Step());
  EXPECT_EQ(q->ColumnText(0), "succeeded");
  EXPECT_EQ(q->ColumnInt(1), 1);
  auto h = (*db)->Prepare("SELECT COUNT(*) FROM job_history WHERE job_id = 1");
  ASSERT_TRUE(*h->Step());
  EXPECT_EQ(h->ColumnInt(0), 4);

  auto health = json::parse(d.Ctl({"health"}).out);
  EXPECT_EQ(health["status"], "ok");
  EXPECT_EQ(health["queue"]["succeeded"], 1);
}

// list reads a long queue in pages: the counts of every state first, then
// at most --limit rows and the command for the next page.
TEST(Daemon, ListPagesThroughTheQueueAndCountsEveryState) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN, "  max_concurrent_jobs: 0\n");
  ASSERT_TRUE(d.Start()) << d.Log();
  for (int i = 1; i <= 5; ++i) ASSERT_EQ(Submit(d, WriteJob(dir, "page" + std::to_string(i))), i);
  ASSERT_EQ(d.Ctl({"cancel", "5"}).exit_code, 0);
  auto first = d.Ctl({"list", "--limit", "2"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out.substr(0, first.out.find('\n')), "5 jobs: 4 waiting, 1 cancelled") << first.out;
  EXPECT_NE(first.out.find("page2"), std::string::npos) << first.out;
  EXPECT_EQ(first.out.find("page3"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("more: carbonctl list --limit 2 --after 2\n"), std::string::npos) << first.out;
  auto page = json::parse(d.Ctl({"-o", "json", "list", "--limit", "2", "--after", "2"}).out);
  ASSERT_EQ(page["jobs"].size(), 2u);
  EXPECT_EQ(page["jobs"][0]["id"], 3);
  EXPECT_EQ(page["jobs"][1]["id"], 4);
  EXPECT_EQ(page["next_after"], 4);
  EXPECT_EQ(page["counts"], json({{"waiting", 4}, {"cancelled", 1}}));
  auto last = json::parse(d.Ctl({"-o", "json", "list", "--limit", "2", "--after", "4"}).out);
  ASSERT_EQ(last["jobs"].size(), 1u);
  EXPECT_TRUE(last["next_after"].is_null());
  auto waiting = d.Ctl({"list", "--state", "waiting", "--limit", "3"});
  EXPECT_NE(waiting.out.find("more: carbonctl list --state waiting --limit 3 --after 3\n"), std::string::npos)
      << waiting.out;
  EXPECT_EQ(d.Ctl({"list", "--limit", "0"}).exit_code, 1);
}

TEST(Daemon, BadInputIsRefusedAndNothingIsStored) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  std::string bad = dir / "bad.yaml";
  std::ofstream(bad) << "name: x\ntrain:\n  epoch: 3\n";
  auto r = d.Ctl({"submit", bad});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown key 'epoch' at " + bad + ":3:3 in train; did you mean 'epochs'?"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(d.Ctl({"submit", dir / "missing.yaml"}).exit_code, 2);

  // The daemon validates too, for clients that skip local validation.
  api::Client c(d.socket());
  auto raw = c.Do("POST", "/v1/jobs?filename=raw.yaml", "name: x\ntrain: {batch_size: 10, accumulation_steps: 3}\n",
                  "application/yaml");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->status, 400);
  json e = json::parse(raw->body)["error"];
  EXPECT_EQ(e["field"], "train.accumulation_steps");
  EXPECT_NE(e["message"].get<std::string>().find("raw.yaml:2:"), std::string::npos);
  auto garbage = c.Do("POST", "/v1/jobs", "{{{{", "application/json");
  EXPECT_EQ(garbage->status, 400);
  EXPECT_EQ(json::parse(d.Ctl({"-o", "json", "list"}).out)["jobs"].size(), 0u);

  // Refusals from the daemon exit 1.
  EXPECT_EQ(d.Ctl({"status", "42"}).exit_code, 1);
  EXPECT_EQ(d.Ctl({"cancel", "42"}).exit_code, 1);
  EXPECT_EQ(d.Ctl({"list", "--state", "bogus"}).exit_code, 1);
  EXPECT_EQ(d.Ctl({"frobnicate"}).exit_code, 2);
}

// worker.gpus (issue 21): a job asking for more GPUs than the list is
// refused at submission; one that finds too few free waits and says for
// what; a CPU job needs none; a cancelled job's GPUs go to the next.
TEST(Daemon, WorkerGpusAreHandedOutAndAJobWaitsForFreeOnes) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN, "  max_concurrent_jobs: 3\n  gpus: [0, GPU-8f2a]\n");
  ASSERT_TRUE(d.Start()) << d.Log();
  auto job = [&](const std::string& name, const std::string& train) {
    const std::string path = dir / (name + ".yaml");
    std::ofstream(path) << "name: " << name << "\ntrain: " << train << "\ncarbon: {policy: immediate}\n";
    return path;
  };
  auto big = d.Ctl({"submit", job("big", "{device: cuda, gpus: 3}")});
  EXPECT_EQ(big.exit_code, 1) << big.out << big.err;
  EXPECT_NE(big.err.find("the job asks for 3 GPUs but worker.gpus lists 2; accepted: at most 2 at site local"),
            std::string::npos)
      << big.err;
  const int64_t a = Submit(d, job("slow-a", "{device: cuda, gpus: 2}"));
  WaitFor(d, a, StateIs("running"));
  const int64_t b = Submit(d, job("slow-b", "{device: cuda}"));
  json jb = WaitFor(d, b, [](const json& j) { return j["reason"].get<std::string>().find("GPU") != std::string::npos; });
  EXPECT_EQ(jb["state"], "waiting");
  EXPECT_EQ(jb["reason"], "ready to run; waiting for 1 GPU (2 of 2 in worker.gpus in use by jobs " +
                              std::to_string(a) + ")");
  const int64_t c = Submit(d, job("quick-cpu", "{device: cpu, epochs: 1}"));
  WaitFor(d, c, StateIs("succeeded"));
  EXPECT_EQ(d.Ctl({"cancel", std::to_string(a)}).exit_code, 0);
  WaitFor(d, b, StateIs("running"));
  EXPECT_EQ(d.Ctl({"cancel", std::to_string(b)}).exit_code, 0);
  WaitFor(d, b, StateIs("cancelled"));
}

TEST(Daemon, LimitsGive413And431) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN, "api:\n  max_body_bytes: 2048\n  max_header_bytes: 1024\n");
  ASSERT_TRUE(d.Start()) << d.Log();
  api::Client c(d.socket());
  auto big = c.Do("POST", "/v1/jobs", "name: x\n#" + std::string(4096, 'a') + "\n", "application/yaml");
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(big->status, 413);
  EXPECT_NE(big->body.find("max_body_bytes"), std::string::npos);
  api::Client c2(d.socket());
  auto longurl = c2.Do("GET", "/v1/jobs?x=" + std::string(2000, 'a'));
  ASSERT_TRUE(longurl.ok()) << longurl.status().ToString();
  EXPECT_EQ(longurl->status, 431);
  // The daemon still serves.
  EXPECT_EQ(d.Ctl({"list"}).exit_code, 0);
}

int ConnectUnix(const std::string& socket_path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// "127.0.0.1:PORT"
int ConnectTcp(const std::string& endpoint) {
  const size_t colon = endpoint.rfind(':');
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(endpoint.substr(colon + 1))));
  ::inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends raw bytes on a connected socket (closing our side of it when
// `half_close`) and reads until carbond closes or `timeout_s` passes; closes fd.
std::string Exchange(int fd, const std::string& bytes, bool half_close = true, int timeout_s = 5) {
  if (fd < 0) return "";
  timeval tv{timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  size_t sent = 0;
  while (sent < bytes.size()) {  // carbond may answer and close before reading it all
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  if (half_close) ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

std::string RawExchange(const std::string& socket_path, const std::string& bytes) {
  return Exchange(ConnectUnix(socket_path), bytes);
}

// Every response of carbond carries its Server header once (a body may
// quote "HTTP/1.0", so the status line is no count).
size_t CountResponses(const std::string& reply) {
  size_t n = 0;
  for (size_t at = reply.find("\r\nServer: carbond\r\n"); at != std::string::npos;
       at = reply.find("\r\nServer: carbond\r\n", at + 1))
    ++n;
  return n;
}

// RFC 9112 6.3: a body that carbond cannot frame as the sender meant is a
// 400 (501 for a coding it lacks) and the connection closes at once, so the
// bytes after the header never become a second request. The client here
// keeps its side open: only carbond's close ends the exchange.
TEST(Daemon, RequestSmugglingIsRefusedAndTheConnectionClosedOnBothListeners) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN, "api: {tcp_listen: \"127.0.0.1:0\", read_timeout: 20s}\n");
  ASSERT_TRUE(d.Start()) << d.Log();
  json h = json::parse(d.Ctl({"-o", "json", "health"}).out);
  ASSERT_TRUE(h["tcp"].is_string()) << h.dump();
  const std::string tcp = h["tcp"];
  const std::string inner =
      "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/yaml\r\nContent-Length: 14\r\n\r\n"
      "name: smuggled";
  const std::string get = "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
  struct Case {
    std::string head;
    std::string status;
  };
  const std::string post = "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/yaml\r\n";
  const std::vector<Case> cases = {
      {post + "Transfer-Encoding: gzip\r\n\r\n", "400"},
      {post + "Transfer-Encoding: GZIP\r\n\r\n", "400"},
      {post + "Transfer-Encoding: chunked, gzip\r\n\r\n", "400"},
      {post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", "400"},
      {post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"},
      {post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", "400"},
      {"POST /v1/jobs HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nContent-Type: application/yaml\r\n"
       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       "400"},
      {post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "501"},
      {"GET /v1/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: x\r\n\r\n", "400"},
  };
  for (const bool over_tcp : {false, true}) {
    for (const Case& c : cases) {
      for (const std::string& smuggled : {inner, get}) {
        const auto t0 = std::chrono::steady_clock::now();
        int fd = over_tcp ? ConnectTcp(tcp) : ConnectUnix(d.socket());
        ASSERT_GE(fd, 0);
        const std::string reply = Exchange(fd, c.head + smuggled, /*half_close=*/false, /*timeout_s=*/10);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const std::string where = (over_tcp ? "tcp: " : "unix: ") + c.head;
        EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 " + c.status) << where << reply;
        EXPECT_EQ(CountResponses(reply), 1u) << where << reply;  // the smuggled request got no answer
        EXPECT_NE(reply.find("Connection: close"), std::string::npos) << where << reply;
        EXPECT_LT(s, 5.0) << where << " (closed by the read timeout, not at once)";
      }
    }
  }
  // Valid framing still works on the same listeners, chunked included.
  const std::string chunked = post + "Transfer-Encoding: chunked\r\n\r\ne\r\nname: chunked1\r\n0\r\n\r\n";
  std::string ok = Exchange(ConnectUnix(d.socket()), chunked);
  EXPECT_EQ(ok.substr(0, 12), "HTTP/1.1 201") << ok;
  json list = json::parse(d.Ctl({"-o", "json", "list"}).out)["jobs"];
  ASSERT_EQ(list.size(), 1u) << list.dump();  // nothing smuggled was stored
  EXPECT_EQ(list[0]["name"], "chunked1");
}

TEST(Daemon, MalformedRequestCorpusGetsItsStatusAndMessageAndChangesNothing) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN, "api: {max_body_bytes: 65536, read_timeout: 2s}\n");
  ASSERT_TRUE(d.Start()) << d.Log();
  std::istringstream expected(fakes::ReadSourceFile("tests/fixtures/bad/http/EXPECTED.tsv"));
  int cases = 0;
  for (std::string line; std::getline(expected, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream cols(line);
    std::string file, status, message;
    std::getline(cols, file, '\t');
    std::getline(cols, status, '\t');
    std::getline(cols, message, '\t');
    const std::string reply = RawExchange(d.socket(), fakes::ReadSourceFile("tests/fixtures/bad/http/" + file));
    EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 " + status) << file << ": " << reply.substr(0, 300);
    EXPECT_NE(reply.find(message), std::string::npos) << file << ": " << reply.substr(0, 300);
    ++cases;
  }
  EXPECT_GE(cases, 50);
  // carbond is up, stored nothing, and every request was answered (none hung).
  json list = json::parse(d.Ctl({"-o", "json", "list"}).out);
  EXPECT_EQ(list["jobs"].size(), 0u);
  EXPECT_EQ(d.Ctl({"health"}).exit_code, 0);
}

TEST(Daemon, IncompleteRequestIsDroppedAfterReadTimeoutWithoutBlockingOthers) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN, "api:\n  read_timeout: 1s\n");
  ASSERT_TRUE(d.Start()) << d.Log();
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, d.socket().c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const char partial[] = "GET /v1/health HTTP/1.1\r\nHost: x\r\n";  // never finished
  ASSERT_GT(::write(fd, partial, sizeof partial - 1), 0);
  // Another client is served meanwhile.
  EXPECT_EQ(d.Ctl({"health"}).exit_code, 0);
  auto t0 = std::chrono::steady_clock::now();
  char buf[64];
  ssize_t n = ::read(fd, buf, sizeof buf);  // blocks until carbond closes the connection
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(n, 0);
  EXPECT_LT(waited, 5.0);
  ::close(fd);
}

TEST(Daemon, PeerCredentialsDecideWhoMayCancel) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run clients as two other users";
  TempDir dir;
  ::chmod(dir.path().c_str(), 0750);  // group 0 may reach the socket, as the carbond group would
  DaemonProcess d(dir, FAKE_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  const std::string job = WriteJob(dir, "slow-shared");
  ::chmod(job.c_str(), 0644);
  auto alice = d.CtlAs(1001, {"submit", job});
  ASSERT_EQ(alice.exit_code, 0) << alice.err;
  const std::string id = alice.out.substr(0, alice.out.find('\n'));
  json j = json::parse(d.Ctl({"-o", "json", "status", id}).out);
  EXPECT_EQ(j["owner_uid"], 1001);  // from SO_PEERCRED, not from anything the client says
  auto bob = d.CtlAs(1002, {"cancel", id});
  EXPECT_EQ(bob.exit_code, 1);
  EXPECT_NE(bob.err.find("belongs to uid 1001; only its owner or root may cancel it"), std::string::npos) << bob.err;
  EXPECT_NE(json::parse(d.Ctl({"-o", "json", "status", id}).out)["state"], "cancelled");
  EXPECT_EQ(d.CtlAs(1001, {"cancel", id}).exit_code, 0);
  auto other = d.CtlAs(1002, {"submit", job});
  ASSERT_EQ(other.exit_code, 0) << other.err;
  const std::string id2 = other.out.substr(0, other.out.find('\n'));
  EXPECT_EQ(d.Ctl({"cancel", id2}).exit_code, 0);  // root may
  WaitFor(d, std::stoll(id), StateIs("cancelled"));
  WaitFor(d, std::stoll(id2), StateIs("cancelled"));
}

TEST(Daemon, SocketIsMode0660) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  struct stat s {};
  ASSERT_EQ(::stat(d.socket().c_str(), &s), 0);
  EXPECT_TRUE(S_ISSOCK(s.st_mode));
  EXPECT_EQ(s.st_mode & 0777, 0660u);
}

// The three ways a connect fails say three things (issue 39): EACCES means
// carbond runs and the user is not in its socket's group; ENOENT and
// ECONNREFUSED mean it does not run there.
TEST(Daemon, APermissionDeniedSocketSaysWhichGroupToJoinNotToStartTheDaemon) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run carbonctl as another user";
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  DaemonProcess d(dir, FAKE_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  // carbonctl where nobody can run it (the build may lie under /root).
  const std::string ctl = dir / "carbonctl";
  std::filesystem::copy_file(CARBONCTL_BIN, ctl);
  auto r = fakes::RunCommand({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ctl,
                              "--socket", d.socket(), "list"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("carbond is running"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sudo usermod -aG root nobody"), std::string::npos) << r.err;  // the socket's group here
  EXPECT_NE(r.err.find("log out and in again"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("start the daemon"), std::string::npos) << r.err;
  // Nobody listening on a socket file (a carbond that died): the start hint.
  const std::string stale = dir / "stale.sock";
  {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", stale.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
  }
  auto refused = fakes::RunCommand({CARBONCTL_BIN, "--socket", stale, "list"});
  EXPECT_EQ(refused.exit_code, 3);
  EXPECT_NE(refused.err.find("Connection refused"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("hint: start the daemon"), std::string::npos) << refused.err;
}

TEST(Daemon, UnreachableDaemonExits3WithHint) {
  TempDir dir;
  auto r = fakes::RunCommand({CARBONCTL_BIN, "--socket", dir / "none.sock", "list"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("cannot connect to carbond"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("hint: start the daemon"), std::string::npos);
  auto env = fakes::RunCommand({CARBONCTL_BIN, "list"}, {"CARBOND_SOCKET=" + (dir / "env.sock")});
  EXPECT_EQ(env.exit_code, 3);
  EXPECT_NE(env.err.find(dir / "env.sock"), std::string::npos) << env.err;
}

TEST(Daemon, SecondDaemonIsRefusedAndLeavesTheFirstAlone) {
  TempDir dir;
  DaemonProcess a(dir, FAKE_WORKER_BIN);
  ASSERT_TRUE(a.Start());
  int64_t id = Submit(a, WriteJob(dir, "slow"));
  WaitFor(a, id, StateIs("running"));
  // Same state directory: refused before it touches the database.
  DaemonProcess b(dir, FAKE_WORKER_BIN);
  b.Start();
  EXPECT_EQ(b.Wait(), 1);
  EXPECT_NE(a.Log().find("already uses state_dir"), std::string::npos) << a.Log();
  json j = json::parse(a.Ctl({"-o", "json", "status", std::to_string(id)}).out);
  EXPECT_EQ(j["state"], "running");
  EXPECT_EQ(j["attempts"], 1);
  // Another state directory but the same socket: refused too.
  TempDir other;
  DaemonProcess c(other, FAKE_WORKER_BIN);
  std::ofstream(c.config()) << "socket: " << a.socket() << "\nstate_dir: " << other.path()
                            << "/state\nworker: {path: " << FAKE_WORKER_BIN << "}\n";
  c.Start();
  EXPECT_EQ(c.Wait(), 1);
  EXPECT_NE(c.Log().find("another server is listening"), std::string::npos) << c.Log();
  EXPECT_EQ(a.Ctl({"list"}).exit_code, 0);
}

TEST(Daemon, CancelRunningJobStopsItsWorker) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  int64_t slow = Submit(d, WriteJob(dir, "slow"));
  int64_t next = Submit(d, WriteJob(dir, "next"));
  WaitFor(d, slow, StateIs("running"));
  auto c = d.Ctl({"cancel", std::to_string(slow)});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  json j = WaitFor(d, slow, StateIs("cancelled"));
  EXPECT_NE(j["reason"].get<std::string>().find("cancelled on request"), std::string::npos);
  WaitFor(d, next, StateIs("succeeded"));
  EXPECT_EQ(d.Ctl({"wait", std::to_string(slow)}).exit_code, 1);
}

TEST(Daemon, WorkerIgnoringSigtermIsKilledAfterGrace) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN, "  cancel_grace: 1s\n");
  ASSERT_TRUE(d.Start()) << d.Log();
  int64_t id = Submit(d, WriteJob(dir, "stubborn"));
  // Its `started` event comes once it ignores SIGTERM (a cancel before
  // that would end it by SIGTERM, not by the kill after the grace period).
  WaitFor(d, id, [](const json& j) {
    return j["state"] == "running" && j["progress"].is_object() && j["progress"].value("event", "") == "started";
  });
  ASSERT_EQ(d.Ctl({"cancel", std::to_string(id)}).exit_code, 0);
  json j = WaitFor(d, id, StateIs("cancelled"));
  EXPECT_NE(j["reason"].get<std::string>().find("signal 9"), std::string::npos) << j.dump();
  EXPECT_NE(d.Log().find("did not stop within the grace period"), std::string::npos);
}

TEST(Daemon, FailingWorkerIsRetriedThenFailedWithItsStderr) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN, "  max_attempts: 2\n");
  ASSERT_TRUE(d.Start()) << d.Log();
  int64_t id = Submit(d, WriteJob(dir, "fail"));
  json j = WaitFor(d, id, StateIs("failed"));
  EXPECT_EQ(j["attempts"], 2);
  EXPECT_EQ(j["exit_status"], 1);
  EXPECT_NE(j["error"].get<std::string>().find("simulated crash"), std::string::npos) << j.dump();
  int64_t rej = Submit(d, WriteJob(dir, "reject"));
  json r = WaitFor(d, rej, StateIs("failed"));
  EXPECT_EQ(r["attempts"], 1);
  EXPECT_NE(r["reason"].get<std::string>().find("data.path does not exist"), std::string::npos);
}

TEST(Daemon, MissingWorkerBinaryIsAClearStartupError) {
  TempDir dir;
  DaemonProcess d(dir, dir / "no-such-worker");
  EXPECT_FALSE(d.Start());
  EXPECT_NE(d.Log().find("is not an executable file"), std::string::npos) << d.Log();
}

TEST(Daemon, WorkerThatCannotBeExecutedFailsTheJobWithTheReason) {
  TempDir dir;
  std::string bogus = dir / "bogus-worker";
  std::ofstream(bogus) << "\x01\x02 not a program";
  ::chmod(bogus.c_str(), 0755);
  DaemonProcess d(dir, bogus);
  ASSERT_TRUE(d.Start()) << d.Log();
  int64_t id = Submit(d, WriteJob(dir, "quick"));
  json j = WaitFor(d, id, StateIs("failed"));
  EXPECT_NE(j["reason"].get<std::string>().find("worker did not start: cannot execute worker"),
            std::string::npos) << j.dump();
  EXPECT_NE(j["reason"].get<std::string>().find("Exec format error"), std::string::npos);
  EXPECT_EQ(d.Ctl({"health"}).exit_code, 0);
}

TEST(Daemon, SigkillWithQueuedAndRunningJobsLosesNothing) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  int64_t running = Submit(d, WriteJob(dir, "slow"));
  int64_t queued = Submit(d, WriteJob(dir, "quick"));
  WaitFor(d, running, StateIs("running"));
  // Find the worker's pid from its attempts file, then kill carbond hard.
  std::string attempts_file = d.runs() + "/" + std::to_string(running) + "/attempts";
  // "running" is stored before the worker starts: wait for it to write its pid.
  pid_t worker = 0;
  for (int i = 0; i < 250 && worker <= 0; ++i) {
    std::ifstream(attempts_file) >> worker;
    if (worker <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(worker, 0);
  d.Kill(SIGKILL);
  // The worker does not outlive carbond (PR_SET_PDEATHSIG).
  for (int i = 0; i < 200 && ::kill(worker, 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_NE(::kill(worker, 0), 0) << "worker " << worker << " survived carbond";

  ASSERT_TRUE(d.Start()) << d.Log();
  json r = WaitFor(d, running, StateIs("running"));
  EXPECT_EQ(r["attempts"], 2);
  bool requeued = false;
  for (const auto& e : r["events"])
    if (e["to"] == "queued" && e["reason"].get<std::string>().find("carbond restarted") != std::string::npos)
      requeued = true;
  EXPECT_TRUE(requeued) << r.dump(2);
  EXPECT_EQ(WaitFor(d, queued, StateIs("waiting"))["state"], "waiting");
  ASSERT_EQ(d.Ctl({"cancel", std::to_string(running)}).exit_code, 0);
  WaitFor(d, queued, StateIs("succeeded"));
  // Two starts of the slow job were recorded by its worker.
  std::ifstream in(attempts_file);
  int lines = 0;
  std::string l;
  while (std::getline(in, l)) ++lines;
  EXPECT_EQ(lines, 2);
}

TEST(Daemon, SkipIdleJumpsTheVirtualClockToTheNextPlannedStart) {
  TempDir dir;
  // Real speed from 17:00 (the mock grid's evening peak): without skipping,
  // the forecast policy would hold the job for about ten hours.
  DaemonProcess d(dir, FAKE_WORKER_BIN,
                  "clock: {mode: virtual, start: 2026-11-26T17:00:00Z, speed: 1, skip_idle: true}\n");
  ASSERT_TRUE(d.Start()) << d.Log();
  int64_t id = Submit(d, WriteJob(dir, "quick", "carbon: {policy: forecast, max_wait: 16h, expected_duration: 10m}\n"));
  json j = WaitFor(d, id, StateIs("succeeded"));
  const std::string planned = j["planned_start"], started = j["started_at"];
  EXPECT_GT(started, "2026-11-26T23:00") << j.dump(2);  // the night, not the evening
  EXPECT_EQ(started.substr(0, 16), planned.substr(0, 16)) << j.dump(2);
  EXPECT_NE(d.Log().find("clock.skip_idle: no job runs; skipped"), std::string::npos) << d.Log();
}

TEST(Daemon, SigtermDrainsAndTheJobResumesAfterRestart) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  int64_t id = Submit(d, WriteJob(dir, "slow"));
  WaitFor(d, id, StateIs("running"));
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(std::chrono::seconds(20)), 0) << d.Log();
  EXPECT_FALSE(fakes::CanConnect(d.socket()));
  EXPECT_NE(d.Log().find("draining"), std::string::npos);
  ASSERT_TRUE(d.Start()) << d.Log();
  json j = WaitFor(d, id, StateIs("running"));
  bool interrupted = false;
  for (const auto& e : j["events"])
    if (e["to"] == "queued" && e["reason"].get<std::string>().find("interrupted") != std::string::npos)
      interrupted = true;
  EXPECT_TRUE(interrupted) << j.dump(2);
}

TEST(Daemon, SighupAppliesOnlyAValidConfig) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  d.WriteConfig("  max_concurent_jobs: 2\n");
  d.Signal(SIGHUP);
  for (int i = 0; i < 100 && d.Log().find("config not applied") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_NE(d.Log().find("config not applied"), std::string::npos) << d.Log();
  EXPECT_NE(d.Log().find("did you mean 'max_concurrent_jobs'"), std::string::npos);
  EXPECT_EQ(d.Ctl({"list"}).exit_code, 0);
  json health = json::parse(d.Ctl({"health", "-o", "json"}).out);
  EXPECT_NE(health["reload"]["error"].get<std::string>().find("max_concurent_jobs"), std::string::npos)
      << health.dump(2);
  // With two slots, two slow jobs run side by side after a valid reload; the
  // new workers send their events through the events file; the TCP listener
  // waits for a restart, and both are said.
  d.WriteConfig("  max_concurrent_jobs: 2\n  events: file\napi:\n  tcp_listen: 127.0.0.1:0\n");
  d.Signal(SIGHUP);
  for (int i = 0; i < 100 && d.Log().find("configuration reloaded") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_NE(d.Log().find("SIGHUP: applied worker.max_concurrent_jobs 1 -> 2"), std::string::npos) << d.Log();
  EXPECT_NE(d.Log().find("SIGHUP: needs a restart: api.tcp_listen \"\" -> 127.0.0.1:0"), std::string::npos);
  health = json::parse(d.Ctl({"health", "-o", "json"}).out);
  const json& reload = health["reload"];
  EXPECT_TRUE(reload["error"].is_null()) << reload.dump(2);
  ASSERT_EQ(reload["applied"].size(), 2u) << reload.dump(2);
  EXPECT_EQ(reload["applied"][0]["key"], "worker.max_concurrent_jobs");
  EXPECT_EQ(reload["applied"][1]["key"], "worker.events");
  ASSERT_EQ(reload["needs_restart"].size(), 1u);
  EXPECT_EQ(reload["needs_restart"][0]["key"], "api.tcp_listen");
  EXPECT_TRUE(health["tcp"].is_null());
  int64_t a = Submit(d, WriteJob(dir, "slow-a"));
  int64_t b = Submit(d, WriteJob(dir, "slow-b"));
  WaitFor(d, a, StateIs("running"));
  WaitFor(d, b, StateIs("running"));
  // Their started events came through the file and were stored as progress.
  for (int64_t id : {a, b}) {
    json j = WaitFor(d, id, [](const json& job) { return !job["progress"].is_null(); });
    EXPECT_EQ(j["progress"]["event"], "started") << j.dump(2);
    EXPECT_TRUE(std::filesystem::exists(j["run_dir"].get<std::string>() + "/events.jsonl")) << j.dump(2);
  }
}

// A stand-in for systemd's notification socket: collects sd_notify datagrams.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    timeval tv{0, 100'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifySocket() { ::close(fd_); }
  // Waits up to 10 s for a message containing `what`; returns all received so far.
  std::string WaitFor(const std::string& what) {
    for (int i = 0; i < 100 && all_.find(what) == std::string::npos; ++i) {
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) all_ += std::string(buf, static_cast<size_t>(n)) + "\n";
    }
    return all_;
  }

 private:
  std::string path_;
  int fd_;
  std::string all_;
};

TEST(Daemon, NotifiesSystemdReadyWatchdogAndStopping) {
  TempDir dir;
  NotifySocket notify(dir / "notify.sock");
  DaemonProcess d(dir, FAKE_WORKER_BIN);
  d.env = {"NOTIFY_SOCKET=" + (dir / "notify.sock"), "WATCHDOG_USEC=200000"};
  d.Start();
  std::string got = notify.WaitFor("READY=1");
  ASSERT_NE(got.find("READY=1"), std::string::npos) << got << d.Log();
  // READY comes only once the socket serves.
  EXPECT_TRUE(fakes::CanConnect(d.socket()));
  EXPECT_NE(notify.WaitFor("STATUS=").find("STATUS=serving on"), std::string::npos);
  EXPECT_NE(notify.WaitFor("WATCHDOG=1").find("WATCHDOG=1"), std::string::npos);
  d.Signal(SIGTERM);
  EXPECT_NE(notify.WaitFor("STOPPING=1").find("STOPPING=1"), std::string::npos);
  EXPECT_EQ(d.Wait(), 0);
}

TEST(Daemon, OnlyTheOwnerOrRootMayCancel) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to act as another uid";
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  DaemonProcess d(dir, FAKE_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  int64_t id = Submit(d, WriteJob(dir, "slow"));
  ::chmod(d.socket().c_str(), 0666);  // let uid 65534 reach the socket for this test
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(90);
    api::Client c(d.socket());
    auto r = c.Do("POST", "/v1/jobs/" + std::to_string(id) + "/cancel");
    int code = r.ok() ? r->status : 0;
    (void)::write(pipefd[1], &code, sizeof code);
    ::_exit(0);
  }
  int code = 0;
  ASSERT_EQ(::read(pipefd[0], &code, sizeof code), static_cast<ssize_t>(sizeof code));
  ::waitpid(pid, nullptr, 0);
  EXPECT_EQ(code, 403);
  json j = json::parse(d.Ctl({"-o", "json", "status", std::to_string(id)}).out);
  EXPECT_NE(j["state"], "cancelled");
  EXPECT_EQ(j["owner_uid"], 0);
  EXPECT_EQ(d.Ctl({"cancel", std::to_string(id)}).exit_code, 0);  // root may
}

}  // namespace
}  // namespace carbon
