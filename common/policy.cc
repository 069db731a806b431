#include "common/policy.h"

#include "common/time_util.h"

namespace carbon {

ReleaseDecision ImmediatePolicy::Decide(const PolicyInput& in) const {
  ReleaseDecision d;
  const auto& nb = in.spec.carbon.not_before;
  if (nb && in.now < *nb) {
    d.release = false;
    d.planned_start = *nb;
    d.reason = "waiting for not_before " + FormatTime(*nb);
    return d;
  }
  d.release = true;
  d.planned_start = in.now;
  d.reason = "released: policy immediate";
  return d;
}

PolicyRegistry::PolicyRegistry() { Register("immediate", std::make_unique<ImmediatePolicy>()); }

void PolicyRegistry::Register(const std::string& name, std::unique_ptr<ReleasePolicy> policy) {
  policies_[name] = std::move(policy);
}

ReleaseDecision PolicyRegistry::Decide(const PolicyInput& in) const {
  auto it = policies_.find(in.spec.carbon.policy);
  if (it != policies_.end()) return it->second->Decide(in);
  ReleaseDecision d = policies_.at("immediate")->Decide(in);
  d.reason += " (policy '" + in.spec.carbon.policy +
              "' is not available in this version of carbond; ran as immediate)";
  return d;
}

}  // namespace carbon
