#include "worker/energy_meters.h"

#include <dirent.h>
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/emissions_csv.h"

namespace carbon::energy {
std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

std::optional<uint64_t> ReadUint(const std::string& path) {
  auto s = ReadFile(path);
  if (!s) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s->c_str(), &end, 10);
  if (end == s->c_str() || errno) return std::nullopt;
  return static_cast<uint64_t>(v);
}

}  // namespace

StatusOr<CpuTimes> ParseProcStat(const std::string& text) {
  std::istringstream in(text);
  std::string label;
  in >> label;
  if (label != "cpu") return InvalidArgument("/proc/stat: the first line is not the aggregate 'cpu' line");
  uint64_t v[10] = {};
  int n = 0;
  for (; n < 10 && (in >> v[n]); ++n) {
  }
  if (n < 4) return InvalidArgument("/proc/stat: fewer than 4 counters on the 'cpu' line");
  CpuTimes t;
  for (int i = 0; i < n && i < 8; ++i) t.total += v[i];  // guest time is already in user
  t.busy = t.total - v[3] - (n > 4 ? v[4] : 0);          // idle and iowait
  return t;
}

double LoadBetween(const CpuTimes& a, const CpuTimes& b) {
  if (b.total <= a.total) return 0;
  double busy = static_cast<double>(b.busy - std::min(b.busy, a.busy));
  return std::clamp(busy / static_cast<double>(b.total - a.total), 0.0, 1.0);
}

StatusOr<uint64_t> ParseProcPidStat(const std::string& text) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
  // count the fields after its last ')'. Field 3 (state) is the first there.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return InvalidArgument("/proc/<pid>/stat: no '(comm)' field");
  std::istringstream in(text.substr(close + 1));
  std::string field;
  uint64_t ticks = 0;
  for (int n = 3; n <= 17; ++n) {
    if (!(in >> field)) return InvalidArgument("/proc/<pid>/stat: fewer than 17 fields");
    if (n < 14) continue;
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
    if (ec != std::errc() || end != field.data() + field.size())
      return InvalidArgument("/proc/<pid>/stat: field " + std::to_string(n) + " is not a tick count: " + field);
    ticks += v;
  }
  return ticks;
}

std::optional<int64_t> ParseProcPidParent(const std::string& text) {
  const auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(text.substr(close + 1));
  std::string state;
  int64_t ppid = 0;
  if (!(in >> state >> ppid)) return std::nullopt;
  return ppid;
}

std::vector<std::string> ProcessTree(const std::string& proc_root, const std::string& root, bool full_scan) {
  std::string root_pid = root;
  if (root == "self") {
    std::error_code ec;
    root_pid = std::filesystem::read_symlink(proc_root + "/self", ec).filename().string();
    if (ec) return {};
  }
  std::error_code ec;
  if (!std::filesystem::exists(proc_root + "/" + root_pid + "/stat", ec)) return {};
  std::vector<std::string> tree = {root_pid};
  // The kernel's list of each thread's children (CONFIG_PROC_CHILDREN):
  // the walk costs what the tree holds, not what the machine runs.
  bool walked = !full_scan;
  for (size_t i = 0; walked && i < tree.size(); ++i) {
    const std::string tasks = proc_root + "/" + tree[i] + "/task";
    bool any = false;
    for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
      auto text = ReadFile(task.path().string() + "/children");
      if (!text) continue;
      any = true;
      std::istringstream in(*text);
      for (std::string pid; in >> pid;) tree.push_back(pid);
    }
    if (!any && i == 0) walked = false;  // no children files here: scan every process instead
  }
  if (walked) return tree;
  tree.resize(1);
  std::multimap<int64_t, std::string> children;  // ppid -> pid
  for (const auto& entry : std::filesystem::directory_iterator(proc_root, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto text = ReadFile(entry.path().string() + "/stat");
    if (!text) continue;  // gone meanwhile
    if (auto ppid = ParseProcPidParent(*text)) children.emplace(*ppid, name);
  }
  for (size_t i = 0; i < tree.size(); ++i) {
    auto [lo, hi] = children.equal_range(std::strtoll(tree[i].c_str(), nullptr, 10));
    for (auto it = lo; it != hi; ++it) tree.push_back(it->second);
  }
  return tree;
}

std::optional<double> ParseVmRssGib(const std::string& status) {
  std::istringstream in(status);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) != 0) continue;
    std::istringstream v(line.substr(6));
    double kb = 0;
    std::string unit;
    if (v >> kb >> unit && unit == "kB") return kb / (1024.0 * 1024.0);
  }
  return std::nullopt;
}

double ProcessShare(const CpuTimes& a, const CpuTimes& b, uint64_t pa, uint64_t pb) {
  if (b.busy <= a.busy || pb <= pa) return 0;
  return std::clamp(static_cast<double>(pb - pa) / static_cast<double>(b.busy - a.busy), 0.0, 1.0);
}

const char* TrackingModeName(TrackingMode m) { return m == TrackingMode::kProcess ? "process" : "machine"; }

CpuInfo ParseCpuInfo(const std::string& text) {
  CpuInfo c;
  std::set<std::string> packages;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    if (key == "processor") ++c.threads;
    if (key == "model name" && c.model.empty()) c.model = value;
    if (key == "physical id") packages.insert(value);
  }
  c.sockets = std::max<int>(1, static_cast<int>(packages.size()));
  return c;
}

namespace {
// A "Key:   N kB" line of /proc/meminfo in GiB.
std::optional<double> MeminfoGib(const std::string& meminfo, const std::string& key) {
  auto p = meminfo.find("\n" + key + ":");
  if (meminfo.rfind(key + ":", 0) == 0) p = 0;
  else if (p != std::string::npos) ++p;
  else return std::nullopt;
  double kb = std::strtod(meminfo.c_str() + p + key.size() + 1, nullptr);
  if (kb < 0) return std::nullopt;
  return kb / (1024.0 * 1024.0);  // kB (KiB) to GiB
}
}  // namespace

std::optional<double> ParseMemTotalGib(const std::string& meminfo) {
  auto gib = MeminfoGib(meminfo, "MemTotal");
  if (!gib || *gib <= 0) return std::nullopt;
  return gib;
}

std::optional<MemoryUse> ParseMemoryUse(const std::string& meminfo) {
  auto total = ParseMemTotalGib(meminfo);
  auto available = MeminfoGib(meminfo, "MemAvailable");
  if (!total || !available) return std::nullopt;
  // psutil (psutil/_pslinux.py, virtual_memory): used = total - free -
  // buffers - cached, cached being Cached + SReclaimable; when that is
  // negative, total - free. percent is (total - available) / total.
  const double free = MeminfoGib(meminfo, "MemFree").value_or(0);
  const double buffers = MeminfoGib(meminfo, "Buffers").value_or(0);
  const double cached = MeminfoGib(meminfo, "Cached").value_or(0) + MeminfoGib(meminfo, "SReclaimable").value_or(0);
  MemoryUse m;
  m.used_gib = *total - free - buffers - cached;
  if (m.used_gib < 0) m.used_gib = *total - free;
  m.used_gib = std::max(0.0, m.used_gib);
  m.percent = 100.0 * std::max(0.0, *total - *available) / *total;
  return m;
}

std::string GpuModelName(const std::vector<std::string>& names) {
  // CodeCarbon: "".join(f"{i} x {name}" for name, i in Counter(names).items()),
  // the names in first-seen order, joined with nothing.
  std::vector<std::pair<std::string, int>> counts;
  for (const auto& n : names) {
    auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == n; });
    if (it == counts.end()) counts.emplace_back(n, 1);
    else ++it->second;
  }
  std::string out;
  for (const auto& [name, count] : counts) out += std::to_string(count) + " x " + name;
  return out;
}

StatusOr<std::unique_ptr<RaplReader>> RaplReader::Open(const std::string& root) {
  auto r = std::unique_ptr<RaplReader>(new RaplReader());
  DIR* d = ::opendir(root.c_str());
  if (!d) return NotFound("no RAPL: " + root + " does not exist (not an Intel/AMD RAPL machine, or a VM)");
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    // Top-level package zones only ("intel-rapl:0"), not sub-zones ("intel-rapl:0:1").
    if (n.rfind("intel-rapl:", 0) == 0 && n.find(':', 11) == std::string::npos) names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    std::string dir = root + "/" + n;
    auto name = ReadFile(dir + "/name");
    if (!name || name->rfind("package", 0) != 0) continue;
    Domain dom;
    dom.energy_path = dir + "/energy_uj";
    auto now = ReadUint(dom.energy_path);
    if (!now)
      return PermissionDenied("cannot read " + dom.energy_path + " (" + std::strerror(errno) +
                              "); since Linux 5.10 RAPL counters are root-only: run the worker with read access "
                              "(e.g. a udev rule or `chmod a+r` on energy_uj) or accept the TDP model");
    dom.last_uj = *now;
    dom.max_range_uj = ReadUint(dir + "/max_energy_range_uj").value_or(0);
    r->domains_.push_back(dom);
  }
  if (r->domains_.empty()) return NotFound("no RAPL package domain under " + root);
  return r;
}

StatusOr<double> RaplReader::DeltaKwh() {
  double kwh = 0;
  for (Domain& d : domains_) {
    auto now = ReadUint(d.energy_path);
    if (!now) return Unavailable("cannot read " + d.energy_path);
    kwh += RaplDeltaKwh(d.last_uj, *now, d.max_range_uj);
    d.last_uj = *now;
  }
  return kwh;
}

std::unique_ptr<NvmlMeter> NvmlMeter::Open(std::string* why, const char* library,
                                           const std::optional<std::string>& visible) {
  void* lib = ::dlopen(library, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    if (why) *why = std::string("no NVML (") + library + " not found): GPU energy is 0, method unavailable";
    return nullptr;
  }
  auto sym = [&](const char* name) { return ::dlsym(lib, name); };
  using InitFn = int (*)();
  using CountFn = int (*)(unsigned int*);
  using HandleFn = int (*)(unsigned int, void**);
  auto init = reinterpret_cast<InitFn>(sym("nvmlInit_v2"));
  auto count = reinterpret_cast<CountFn>(sym("nvmlDeviceGetCount_v2"));
  auto handle = reinterpret_cast<HandleFn>(sym("nvmlDeviceGetHandleByIndex_v2"));
  std::unique_ptr<NvmlMeter> m(new NvmlMeter());
  m->lib_ = lib;
  m->energy_ = reinterpret_cast<int (*)(void*, unsigned long long*)>(sym("nvmlDeviceGetTotalEnergyConsumption"));
  m->power_ = reinterpret_cast<int (*)(void*, unsigned int*)>(sym("nvmlDeviceGetPowerUsage"));
  m->limit_ = reinterpret_cast<int (*)(void*, unsigned int*)>(sym("nvmlDeviceGetPowerManagementLimit"));
  m->shutdown_ = reinterpret_cast<int (*)()>(sym("nvmlShutdown"));
  unsigned int n = 0;
  if (!init || !count || !handle || init() != 0 || count(&n) != 0 || n == 0) {
    if (why) *why = "NVML present but no usable GPU: GPU energy is 0, method unavailable";
    return nullptr;
  }
  using TextFn = int (*)(void*, char*, unsigned int);
  auto name = reinterpret_cast<TextFn>(sym("nvmlDeviceGetName"));
  auto uuid = reinterpret_cast<TextFn>(sym("nvmlDeviceGetUUID"));
  std::vector<void*> handles;
  std::vector<std::string> names, uuids;
  for (unsigned int i = 0; i < n; ++i) {
    void* h = nullptr;
    if (handle(i, &h) != 0) continue;
    char buf[96] = {}, id[96] = {};
    handles.push_back(h);
    names.push_back(name && name(h, buf, sizeof buf) == 0 ? std::string(buf) : "NVIDIA GPU");
    uuids.push_back(uuid && uuid(h, id, sizeof id) == 0 ? std::string(id) : "");
  }
  for (size_t k : VisibleGpus(visible, uuids)) {
    m->handles_.push_back(handles[k]);
    m->names_.push_back(names[k]);
    if (visible) m->chosen_ += (m->chosen_.empty() ? ":" : ",") + (uuids[k].empty() ? std::to_string(k) : uuids[k]);
  }
  if (m->handles_.empty()) {
    if (why)
      *why = visible ? "CUDA_VISIBLE_DEVICES='" + *visible + "' names none of the " + std::to_string(handles.size()) +
                           " GPU(s) NVML reports: GPU energy is 0, method unavailable"
                     : "NVML gave no handle for any GPU: GPU energy is 0, method unavailable";
    return nullptr;
  }
  m->last_mj_.assign(m->handles_.size(), 0);
  for (size_t i = 0; i < m->handles_.size(); ++i)
    if (!m->energy_ || m->energy_(m->handles_[i], &m->last_mj_[i]) != 0) m->counter_ok_ = false;
  return m;
}

std::optional<double> NvmlMeter::PowerLimitW() const {
  if (!limit_) return std::nullopt;
  double watts = 0;
  for (void* h : handles_) {
    unsigned int mw = 0;
    if (limit_(h, &mw) != 0) return std::nullopt;
    watts += mw / 1000.0;
  }
  return watts;
}

NvmlMeter::~NvmlMeter() {
  if (shutdown_) shutdown_();
  if (lib_) ::dlclose(lib_);
}

StatusOr<double> NvmlMeter::DeltaKwh(double seconds, std::string* method) {
  double kwh = 0;
  for (size_t i = 0; i < handles_.size(); ++i) {
    if (counter_ok_) {
      unsigned long long mj = 0;
      if (energy_(handles_[i], &mj) != 0) return Unavailable("nvmlDeviceGetTotalEnergyConsumption failed");
      kwh += KwhFromMillijoules(static_cast<double>(mj - last_mj_[i]));
      last_mj_[i] = mj;
    } else {
      unsigned int mw = 0;
      if (!power_ || power_(handles_[i], &mw) != 0) return Unavailable("nvmlDeviceGetPowerUsage failed");
      kwh += KwhFromPowerAndTime(mw / 1000.0, seconds);
    }
  }
  if (method) *method = (counter_ok_ ? "nvml" : "nvml-power") + chosen_;
  return kwh;
}

EnergyTracker::EnergyTracker(TrackerOptions options) : o_(std::move(options)) {
  auto rapl = RaplReader::Open(o_.powercap_root);
  if (rapl.ok()) rapl_ = std::move(*rapl);
  else notes_.push_back(rapl.status().message() + "; CPU energy from CodeCarbon's TDP model");
  cpu_ = ParseCpuInfo(ReadFile(o_.proc_root + "/cpuinfo").value_or(""));
  if (!rapl_) {
    std::optional<CpuTdp> match;
    if (!o_.cpu_power_csv.empty()) {
      auto text = ReadFile(o_.cpu_power_csv);
      auto table = text ? ParseCpuPowerCsv(*text, o_.cpu_power_csv)
                        : StatusOr<std::vector<CpuTdp>>(NotFound("cannot read " + o_.cpu_power_csv));
      if (table.ok()) match = MatchCpu(cpu_.model, *table);
      else notes_.push_back(table.status().message());
    }
    if (match) {
      // CodeCarbon's TDP is per package: it multiplies by lscpu's Socket(s)
      // (count_physical_cpus in codecarbon/core/util.py).
      tdp_w_ = match->tdp_watts * cpu_.sockets;
      if (cpu_.sockets > 1)
        notes_.push_back(std::to_string(cpu_.sockets) + " CPU sockets: " + cpu_.model + "'s TDP counted " +
                         std::to_string(cpu_.sockets) + " times");
    } else if (!cpu_.model.empty() && cpu_.threads > 0) {
      tdp_w_ = kUnknownCpuWattsPerThread * cpu_.threads;
      notes_.push_back("CPU model '" + cpu_.model + "' is not in CodeCarbon's table: " +
                       std::to_string(cpu_.threads) + " threads x 4 W");
    } else {
      tdp_w_ = kNoModelCpuWatts;
      notes_.push_back("no CPU model: CodeCarbon's 85 W");
    }
  }
  host_.ram_total_gib = ParseMemTotalGib(ReadFile(o_.proc_root + "/meminfo").value_or(""));
  if (auto gb = host_.ram_total_gib) {
#if defined(__aarch64__) || defined(__arm__)
    ram_w_ = RamPowerWatts(*gb, true);
#else
    ram_w_ = RamPowerWatts(*gb, false);
#endif
  }
  if (o_.try_nvml) {
    std::string why;
    const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
    nvml_ = NvmlMeter::Open(&why, "libnvidia-ml.so.1",
                            visible ? std::optional<std::string>(visible) : std::nullopt);
    if (!nvml_) notes_.push_back(why);
  }
  if (auto t = ParseProcStat(ReadFile(o_.proc_root + "/stat").value_or("")); t.ok())
    last_times_ = util_times_ = share_times_ = *t;
  if (process_mode()) {
    last_process_ = share_process_ = sample_process_ = ReadProcessTicks();
    if (!last_process_)
      notes_.push_back("tracking_mode process: cannot read " + o_.proc_root + "/" + o_.pid +
                       "/stat; the process's share counts as 0");
    if (!o_.process_uses_gpu) notes_.push_back("tracking_mode process: the job trains on the CPU, so no GPU energy");
  }
  host_.cpu_model = cpu_.model;
  if (cpu_.threads > 0) host_.cpu_count = cpu_.threads;
  // CodeCarbon writes 0 GPUs on a machine without one (or without NVML).
  host_.gpu_count = nvml_ ? nvml_->devices() : 0;
  if (nvml_) host_.gpu_model = GpuModelName(nvml_->names());
  host_.os = carbon::PlatformName();
}

EnergyTracker::~EnergyTracker() = default;

StatusOr<CpuTimes> EnergyTracker::ReadTimes() const {
  return ParseProcStat(ReadFile(o_.proc_root + "/stat").value_or(""));
}

std::optional<uint64_t> EnergyTracker::ReadProcessTicks() const {
  if (o_.process_tree) {
    // Each live process's own and waited-for children's time: a process
    // that ended is in its parent's cutime/cstime once waited for, so
    // nothing is counted twice or lost (the supervisor waits for orphans).
    std::optional<uint64_t> sum;
    for (const std::string& pid : ProcessTree(o_.proc_root, o_.pid)) {
      auto text = ReadFile(o_.proc_root + "/" + pid + "/stat");
      if (!text) continue;
      if (auto ticks = ParseProcPidStat(*text); ticks.ok()) sum = sum.value_or(0) + *ticks;
    }
    return sum;
  }
  auto text = ReadFile(o_.proc_root + "/" + o_.pid + "/stat");
  if (!text) return std::nullopt;
  auto ticks = ParseProcPidStat(*text);
  return ticks.ok() ? std::optional<uint64_t>(*ticks) : std::nullopt;
}

std::optional<double> TreeRssGib(const std::string& proc_root, const std::string& root) {
  std::optional<double> sum;
  for (const std::string& pid : ProcessTree(proc_root, root))
    if (auto rss = ParseVmRssGib(ReadFile(proc_root + "/" + pid + "/status").value_or(""))) sum = sum.value_or(0) + *rss;
  return sum;
}

std::optional<double> EnergyTracker::ReadProcessRssGib() const {
  if (!o_.process_tree) return ParseVmRssGib(ReadFile(o_.proc_root + "/" + o_.pid + "/status").value_or(""));
  return TreeRssGib(o_.proc_root, o_.pid);
}

double EnergyTracker::ShareSince(std::optional<CpuTimes>& before_machine, std::optional<uint64_t>& before_process,
                                 const StatusOr<CpuTimes>& machine, std::optional<uint64_t> process) const {
  double share = 0;
  if (machine.ok() && process && before_machine && before_process)
    share = ProcessShare(*before_machine, *machine, *before_process, *process);
  if (machine.ok()) before_machine = *machine;
  if (process) before_process = process;
  return share;
}

void EnergyTracker::TickLoad(double seconds) {
  if (!rapl_) TickLoadAt(seconds, ReadTimes(), process_mode() ? ReadProcessTicks() : std::nullopt);
}

void EnergyTracker::TickLoadAt(double seconds, const StatusOr<CpuTimes>& t, std::optional<uint64_t> process) {
  double load = 0;
  std::optional<CpuTimes> before = last_times_;
  if (t.ok()) {
    if (last_times_) load = LoadBetween(*last_times_, *t);
    last_times_ = *t;
  }
  double kwh = KwhFromPowerAndTime(CpuPowerAtLoad(tdp_w_, load), seconds);
  // Process mode: this second's machine power, times the process's share of its busy time.
  if (process_mode()) kwh *= ShareSince(before, last_process_, t, process);
  tdp_kwh_ += kwh;
  ticked_s_ += seconds;
}

EnergySample EnergyTracker::Sample(double seconds) {
  EnergySample s;
  s.seconds = seconds;
  s.tracking_mode = TrackingModeName(o_.tracking_mode);
  const StatusOr<CpuTimes> times = ReadTimes();  // one read for the load curve and the utilisation
  const std::optional<uint64_t> process = process_mode() ? ReadProcessTicks() : std::nullopt;
  if (rapl_) {
    auto kwh = rapl_->DeltaKwh();
    s.cpu_kwh = kwh.ok() ? *kwh : 0;
    // Process mode: the package energy times the process's share of the busy time.
    if (process_mode()) s.cpu_kwh *= ShareSince(share_times_, share_process_, times, process);
    s.cpu_method = "rapl";
  } else {
    // The rest of the interval since the last tick, at its own load.
    TickLoadAt(std::max(0.0, seconds - ticked_s_), times, process);
    s.cpu_kwh = tdp_kwh_;
    tdp_kwh_ = 0;
    ticked_s_ = 0;
    s.cpu_method = "tdp-model";
  }
  if (process_mode() && !o_.process_uses_gpu) {
    s.gpu_method = "none-cpu-job";  // process mode: the job uses no GPU
  } else if (nvml_) {
    auto kwh = nvml_->DeltaKwh(seconds, &s.gpu_method);
    s.gpu_kwh = kwh.ok() ? *kwh : 0;
    // A GPU lost mid-run: no figure, and the row's method says why it is 0.
    if (!kwh.ok()) s.gpu_method = "nvml-error";
    s.gpu_power_limit_w = nvml_->PowerLimitW();
  } else {
    s.gpu_method = "unavailable";
  }
  if (process && sample_process_ && *process >= *sample_process_) {
    static const double ticks_per_s = static_cast<double>(::sysconf(_SC_CLK_TCK));
    s.process_cpu_s = static_cast<double>(*process - *sample_process_) / ticks_per_s;
  }
  if (process) sample_process_ = process;
  double ram_w = ram_w_;
  if (process_mode()) {
    // Its resident memory's share of the machine's, at the end of the interval.
    const auto rss = ReadProcessRssGib();
    const auto total = host_.ram_total_gib;
    ram_w = rss && total && *total > 0 ? ram_w_ * std::min(1.0, *rss / *total) : 0;
  }
  s.ram_kwh = KwhFromPowerAndTime(ram_w, seconds);
  // The machine's load over the interval, as CodeCarbon records it per measure.
  if (times.ok()) {
    if (util_times_ && times->total > util_times_->total)
      s.cpu_utilization_pct = 100.0 * LoadBetween(*util_times_, *times);
    util_times_ = *times;
  }
  s.memory = ParseMemoryUse(ReadFile(o_.proc_root + "/meminfo").value_or(""));
  s.cpu_kwh *= o_.pue;
  s.gpu_kwh *= o_.pue;
  s.ram_kwh *= o_.pue;
  if (seconds > 0) {
    s.cpu_w = WattsFromEnergies(s.cpu_kwh, 0, seconds);
    s.gpu_w = WattsFromEnergies(s.gpu_kwh, 0, seconds);
    s.ram_w = WattsFromEnergies(s.ram_kwh, 0, seconds);
  }
  return s;
}

GridFeed::GridFeed(std::string file, std::optional<GridReading> fallback)
    : file_(std::move(file)), fallback_(std::move(fallback)) {}

std::optional<GridReading> GridFeed::Current() {
  if (file_.empty()) return fallback_;
  struct stat st {};
  if (::stat(file_.c_str(), &st) != 0) return last_ ? last_ : fallback_;
  // carbond replaces the file (rename), so a new inode means new contents
  // even within the file system's timestamp granularity.
  const FileStamp stamp{static_cast<int64_t>(st.st_ino),
                        static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                        static_cast<int64_t>(st.st_size)};
  if (stamp != stamp_) {
    auto text = ReadFile(file_);
    auto r = text ? ParseGridFile(*text, file_) : StatusOr<GridReading>(NotFound("cannot read " + file_));
    if (r.ok()) {
      last_ = *r;
      stamp_ = stamp;
    }
  }
  return last_ ? last_ : fallback_;
}

SampledTracker::SampledTracker(EnergyTracker& tracker, GridFeed& grid, double period_s)
    : tracker_(tracker), grid_(grid), period_s_(period_s), last_(std::chrono::steady_clock::now()), last_tick_(last_) {
  const bool ticks = tracker_.uses_load_model();
  if (period_s_ <= 0 && !ticks) return;
  // Wake once a second for the load curve (TDP model), or once a period.
  const double wake_s = ticks ? std::min(1.0, period_s_ > 0 ? period_s_ : 1.0) : period_s_;
  thread_ = std::thread([this, wake_s, ticks] {
    std::unique_lock<std::mutex> lock(mu_);
    const auto wake = std::chrono::duration<double>(wake_s);
    while (!cv_.wait_for(lock, wake, [this] { return stop_; })) {
      const auto now = std::chrono::steady_clock::now();
      if (period_s_ > 0 && std::chrono::duration<double>(now - last_).count() >= period_s_ - 1e-3) {
        SampleLocked();
      } else if (ticks) {
        tracker_.TickLoad(std::chrono::duration<double>(now - last_tick_).count());
        last_tick_ = now;
      }
    }
  });
}

SampledTracker::~SampledTracker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SampledTracker::SampleLocked() {
  const auto now = std::chrono::steady_clock::now();
  const double secs = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  last_tick_ = now;
  const EnergySample s = tracker_.Sample(secs);
  EnergySample& a = acc_.energy;
  a.seconds += s.seconds;
  a.cpu_kwh += s.cpu_kwh;
  a.gpu_kwh += s.gpu_kwh;
  a.ram_kwh += s.ram_kwh;
  a.cpu_method = s.cpu_method;
  a.gpu_method = s.gpu_method;
  a.ram_method = s.ram_method;
  a.tracking_mode = s.tracking_mode;
  a.gpu_power_limit_w = s.gpu_power_limit_w;
  ++acc_.samples;
  if (s.process_cpu_s) acc_.process_cpu_s = acc_.process_cpu_s.value_or(0) + *s.process_cpu_s;
  if (s.cpu_utilization_pct) acc_.cpu_utilization_sum += *s.cpu_utilization_pct, ++acc_.cpu_utilization_n;
  if (s.memory) acc_.ram_percent_sum += s.memory->percent, acc_.ram_used_gib_sum += s.memory->used_gib, ++acc_.memory_n;
  const double kwh = s.total_kwh();
  if (auto g = grid_.Current()) {
    acc_.kg_co2 = acc_.kg_co2.value_or(0) + kwh * g->gco2_per_kwh * 0.001;  // kWh x g/kWh = g; x 0.001 = kg
    attributed_kwh_ += kwh;
    if (!g->source.empty() && ("+" + acc_.intensity_source + "+").find("+" + g->source + "+") == std::string::npos)
      acc_.intensity_source += (acc_.intensity_source.empty() ? "" : "+") + g->source;
    acc_.zone = g->zone;
  } else {
    unattributed_kwh_ += kwh;
  }
}

EpochEnergy SampledTracker::TakeEpoch() {
  std::lock_guard<std::mutex> lock(mu_);
  SampleLocked();
  EpochEnergy out = std::move(acc_);
  EnergySample& e = out.energy;
  if (e.seconds > 0) {
    e.cpu_w = WattsFromEnergies(e.cpu_kwh, 0, e.seconds);
    e.gpu_w = WattsFromEnergies(e.gpu_kwh, 0, e.seconds);
    e.ram_w = WattsFromEnergies(e.ram_kwh, 0, e.seconds);
  }
  if (unattributed_kwh_ > 0) out.kg_co2.reset();
  if (out.kg_co2 && attributed_kwh_ > 0) out.gco2_per_kwh = *out.kg_co2 * 1000.0 / attributed_kwh_;
  acc_ = EpochEnergy{};
  attributed_kwh_ = unattributed_kwh_ = 0;
  return out;
}

RunMeter::RunMeter(MeterOptions options) : o_(std::move(options)) {
  if (!o_.enabled) return;
  tracker_ = std::make_unique<EnergyTracker>(o_.tracker);
  feed_ = std::make_unique<GridFeed>(o_.grid_file, o_.fallback);
  sampler_ = std::make_unique<SampledTracker>(*tracker_, *feed_, o_.measure_power_secs);
}

RunMeter::~RunMeter() = default;

std::vector<std::string> RunMeter::notes() const {
  if (!tracker_) return {"energy tracking is off"};
  return tracker_->notes();
}

std::vector<double> CarriedEnergy::Pack() const {
  return {seconds, cpu_kwh, gpu_kwh, ram_kwh, kg_co2 ? *kg_co2 : std::nan("")};
}

std::optional<CarriedEnergy> CarriedEnergy::Unpack(const std::vector<double>& v) {
  if (v.size() != 5) return std::nullopt;
  for (size_t i = 0; i < 4; ++i)
    if (!std::isfinite(v[i]) || v[i] < 0) return std::nullopt;
  CarriedEnergy c{v[0], v[1], v[2], v[3], std::nullopt};
  if (std::isfinite(v[4]) && v[4] >= 0) c.kg_co2 = v[4];
  return c;
}

CarriedEnergy RunMeter::TakePartial() {
  CarriedEnergy c;
  if (!sampler_) return c;
  const EpochEnergy en = sampler_->TakeEpoch();
  c = {en.energy.seconds, en.energy.cpu_kwh, en.energy.gpu_kwh, en.energy.ram_kwh, en.kg_co2};
  if (carried_) {  // stopped again before the epoch ended
    c.seconds += carried_->seconds;
    c.cpu_kwh += carried_->cpu_kwh;
    c.gpu_kwh += carried_->gpu_kwh;
    c.ram_kwh += carried_->ram_kwh;
    c.kg_co2 = c.kg_co2 && carried_->kg_co2 ? std::optional<double>(*c.kg_co2 + *carried_->kg_co2) : std::nullopt;
  }
  return c;
}

void RunMeter::AddEpochEnergy(protocol::Epoch& ev) {
  if (!sampler_) return;
  EpochEnergy en = sampler_->TakeEpoch();
  if (carried_) {
    // The part before the stop: energies and time add up, powers are their means.
    EnergySample& s = en.energy;
    const double seconds = s.seconds + carried_->seconds;
    auto mean_w = [&](double kwh) { return seconds > 0 ? kwh * 3.6e6 / seconds : 0.0; };
    s.cpu_kwh += carried_->cpu_kwh;
    s.gpu_kwh += carried_->gpu_kwh;
    s.ram_kwh += carried_->ram_kwh;
    s.seconds = seconds;
    s.cpu_w = mean_w(s.cpu_kwh);
    s.gpu_w = mean_w(s.gpu_kwh);
    s.ram_w = mean_w(s.ram_kwh);
    if (en.kg_co2 && carried_->kg_co2) {
      en.kg_co2 = *en.kg_co2 + *carried_->kg_co2;
      if (s.total_kwh() > 0) en.gco2_per_kwh = *en.kg_co2 * 1000 / s.total_kwh();
    } else {
      en.kg_co2.reset();  // carbond charges the epoch at the intensity it recorded
    }
    carried_.reset();
  }
  const EnergySample& s = en.energy;
  EpochRecord& r = ev.record;
  r.cpu_kwh = s.cpu_kwh;
  r.gpu_kwh = s.gpu_kwh;
  r.ram_kwh = s.ram_kwh;
  r.energy_kwh = s.total_kwh();
  r.cpu_w = s.cpu_w;
  r.gpu_w = s.gpu_w;
  r.ram_w = s.ram_w;
  r.cpu_method = s.cpu_method;
  r.gpu_method = s.gpu_method;
  r.ram_method = s.ram_method;
  r.tracking_mode = s.tracking_mode;
  r.gpu_power_limit_w = s.gpu_power_limit_w;
  r.energy_s = s.seconds;
  r.host = tracker_->host();
  if (en.cpu_utilization_n) r.host.cpu_utilization_pct = en.cpu_utilization_sum / en.cpu_utilization_n;
  if (en.memory_n) {
    r.host.ram_utilization_pct = en.ram_percent_sum / en.memory_n;
    r.host.ram_used_gib = en.ram_used_gib_sum / en.memory_n;
  }
  ev.energy_samples = en.samples;
  ev.process_cpu_s = en.process_cpu_s;
  ev.pue = o_.tracker.pue;
  ev.measure_power_secs = o_.measure_power_secs;
  if (en.kg_co2) {
    r.kg_co2 = *en.kg_co2;
    r.gco2_per_kwh = en.gco2_per_kwh;
    r.intensity_source = en.intensity_source;
    r.zone = en.zone;
  }
}

}  // namespace carbon::energy
