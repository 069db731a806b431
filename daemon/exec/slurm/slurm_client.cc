#include "daemon/exec/slurm/slurm_client.h"

namespace carbon::slurm {

Client::Client(CommandRunner& runner, ClientOptions options) : runner_(runner), options_(std::move(options)) {}

void Client::Run(const std::string& tool, std::vector<std::string> args,
                 std::function<void(StatusOr<CommandResult>)> done) {
  std::vector<std::string> argv = {options_.bin_dir + "/" + tool};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> env = {"PATH=/usr/bin:/bin"};
  if (!options_.conf.empty()) env.push_back("SLURM_CONF=" + options_.conf);
  env.insert(env.end(), options_.env.begin(), options_.env.end());
  const std::string what = tool;
  Status st = runner_.Run(std::move(argv), std::move(env), options_.timeout, [done, what](CommandResult r) {
    if (r.ok()) return done(std::move(r));
    if (r.timed_out) return done(Unavailable(what + " timed out"));
    switch (ClassifyFailure(r.err)) {
      case Failure::kControllerDown: return done(Unavailable(what + ": " + r.Describe()));
      case Failure::kInvalidJobId: return done(NotFound(what + ": " + r.Describe()));
      case Failure::kOther: return done(FailedPrecondition(what + ": " + r.Describe()));
    }
  });
  if (!st.ok()) done(st);
}

std::vector<std::string> Client::SubmitArgv(const Submission& s) const {
  std::vector<std::string> a = {"--parsable", "-J", s.name, "--comment=" + s.comment, "--chdir=" + s.chdir,
                                "--output=" + s.output, "--export-file=" + s.export_file,
                                // Preempted or node-failed jobs run again (resuming from their
                                // checkpoint), appending to the same log.
                                "--requeue", "--open-mode=append"};
  if (s.hold) a.push_back("--hold");
  if (!s.partition.empty()) a.push_back("--partition=" + s.partition);
  a.insert(a.end(), s.extra_args.begin(), s.extra_args.end());
  a.push_back(s.script);
  return a;
}

void Client::Submit(const Submission& s, std::function<void(StatusOr<int64_t>)> done) {
  Run("sbatch", SubmitArgv(s), [done](StatusOr<CommandResult> r) {
    if (!r.ok()) return done(r.status());
    done(ParseSbatch(r->out));
  });
}

void Client::Release(int64_t id, std::function<void(Status)> done) {
  Run("scontrol", {"release", std::to_string(id)}, [done](StatusOr<CommandResult> r) { done(r.status()); });
}

void Client::Cancel(int64_t id, std::optional<std::string> signal, std::function<void(Status)> done) {
  std::vector<std::string> args;
  // --batch: the batch shell only, which execs the worker (not only job
  // steps, and not every process of the step: a command job's supervisor
  // sends its program the job's own run.stop_signal).
  if (signal) args.insert(args.end(), {"--batch", "--signal=" + *signal});
  args.push_back(std::to_string(id));
  Run("scancel", std::move(args), [done](StatusOr<CommandResult> r) { done(r.status()); });
}

void Client::Queue(std::function<void(StatusOr<std::vector<QueueRow>>)> done) {
  Run("squeue", {"-h", "-t", "all", "-o", kSqueueFormat}, [done](StatusOr<CommandResult> r) {
    if (!r.ok()) return done(r.status());
    done(ParseSqueue(r->out));
  });
}

void Client::Accounting(const std::vector<int64_t>& ids, bool jobcomp,
                        std::function<void(StatusOr<std::vector<AcctRow>>)> done) {
  std::string list;
  for (int64_t id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
  std::vector<std::string> args;
  if (jobcomp) args.push_back("-c");
  args.insert(args.end(), {"-n", "-P", "-X", "-o", kSacctFields, "-j", list});
  Run("sacct", std::move(args), [done](StatusOr<CommandResult> r) {
    if (!r.ok()) return done(r.status());
    done(ParseSacct(r->out));
  });
}

}  // namespace carbon::slurm
