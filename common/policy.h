// Release policies: pure functions of a job, its submission time and "now"
// that say whether a job may start and, if not, why and until when.
// The daemon and (later) the simulator run the very same code.
//
// This version implements `immediate` (which still honours carbon.not_before).
// `threshold` and `forecast` are parsed and validated by the job spec; until
// their policies are registered the registry runs them as immediate and says
// so in the job's reason.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/job_spec.h"

namespace carbon {

struct ReleaseDecision {
  bool release = false;
  std::optional<Timestamp> planned_start;  // when the policy expects to release it
  std::string reason;                      // for people: why (not) now
};

struct PolicyInput {
  const JobSpec& spec;
  Timestamp submitted;
  Timestamp now;
};

class ReleasePolicy {
 public:
  virtual ~ReleasePolicy() = default;
  virtual ReleaseDecision Decide(const PolicyInput& in) const = 0;
};

class ImmediatePolicy final : public ReleasePolicy {
 public:
  ReleaseDecision Decide(const PolicyInput& in) const override;
};

// Maps carbon.policy names to policies. Not thread-safe for Register after use.
class PolicyRegistry {
 public:
  PolicyRegistry();  // registers "immediate"
  void Register(const std::string& name, std::unique_ptr<ReleasePolicy> policy);
  // Decides with the job's policy; an unregistered name falls back to
  // immediate and the reason says so.
  ReleaseDecision Decide(const PolicyInput& in) const;

 private:
  std::map<std::string, std::unique_ptr<ReleasePolicy>> policies_;
};

}  // namespace carbon
