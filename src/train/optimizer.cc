#include "train/optimizer.h"

#include <cmath>
#include <numbers>

#include "core/check.h"
#include "quench/error.h"

namespace quench::train {

namespace {

// Saves `slots` (per-parameter state) as prefix + slot + "/" + parameter.
void save_slots(const std::string& prefix, const std::string& slot,
                const std::map<std::string, Tensor>& values, std::map<std::string, Tensor>& out) {
  for (const auto& [name, v] : values) {
    if (v.defined()) out[prefix + slot + "/" + name] = v.clone();
  }
}

void load_slots(const std::string& prefix, const std::string& slot,
                const std::map<std::string, Tensor>& in,
                const std::map<std::string, Tensor>& parameters,
                std::map<std::string, Tensor>& values) {
  values.clear();
  const std::string start = prefix + slot + "/";
  for (auto it = in.lower_bound(start); it != in.end() && it->first.starts_with(start); ++it) {
    const std::string name = it->first.substr(start.size());
    auto p = parameters.find(name);
    QUENCH_CHECK(p != parameters.end() && p->second.shape() == it->second.shape() &&
                     it->second.dtype() == DType::kFloat32,
                 ErrorKind::kIo,
                 "checkpoint optimizer state '{}' does not match a parameter of this model",
                 it->first);
    values[name] = it->second.clone();
  }
}

void check_grad(const std::string& name, const Tensor& p, const std::map<std::string, Tensor>& g) {
  auto it = g.find(name);
  if (it == g.end() || it->second.shape() != p.shape()) {
    throw Error(ErrorKind::kInternal, "no gradient of the shape of parameter '" + name + "'");
  }
}

// (T12) SGD with momentum μ, weight decay λ (added to the gradient), optionally Nesterov:
//   g ← g + λp,  v ← μv + g,  p ← p − lr·(nesterov ? g + μv : v).
class Sgd : public Optimizer {
 public:
  explicit Sgd(const OptimizerOptions& o) : o_(o) {}
  void step(std::map<std::string, Tensor>& parameters, const std::map<std::string, Tensor>& grads,
            float lr) override {
    for (auto& [name, p] : parameters) {
      check_grad(name, p, grads);
      Tensor& v = velocity_[name];
      if (!v.defined()) v = Tensor::zeros(DType::kFloat32, p.shape());
      float* pp = p.data<float>();
      float* pv = v.data<float>();
      const float* pg = grads.at(name).data<float>();
      for (int64_t i = 0; i < p.numel(); ++i) {
        const float g = pg[i] + o_.weight_decay * pp[i];
        pv[i] = o_.momentum * pv[i] + g;
        pp[i] -= lr * (o_.nesterov ? g + o_.momentum * pv[i] : pv[i]);
      }
    }
  }

  void save_state(const std::string& prefix, std::map<std::string, Tensor>& out) const override {
    save_slots(prefix, "velocity", velocity_, out);
  }
  void load_state(const std::string& prefix, const std::map<std::string, Tensor>& in,
                  const std::map<std::string, Tensor>& parameters) override {
    load_slots(prefix, "velocity", in, parameters, velocity_);
  }

 private:
  OptimizerOptions o_;
  std::map<std::string, Tensor> velocity_;
};

// (T13) AdamW (decoupled weight decay), step t = 1, 2, ...:
//   p ← p − lr·λ·p,  m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²,
//   p ← p − lr · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + ε).
class AdamW : public Optimizer {
 public:
  explicit AdamW(const OptimizerOptions& o) : o_(o) {}
  void step(std::map<std::string, Tensor>& parameters, const std::map<std::string, Tensor>& grads,
            float lr) override {
    ++t_;
    const double c1 = 1.0 - std::pow(static_cast<double>(o_.beta1), static_cast<double>(t_));
    const double c2 = 1.0 - std::pow(static_cast<double>(o_.beta2), static_cast<double>(t_));
    for (auto& [name, p] : parameters) {
      check_grad(name, p, grads);
      Tensor& m = m_[name];
      Tensor& v = v_[name];
      if (!m.defined()) {
        m = Tensor::zeros(DType::kFloat32, p.shape());
        v = Tensor::zeros(DType::kFloat32, p.shape());
      }
      float* pp = p.data<float>();
      float* pm = m.data<float>();
      float* pv = v.data<float>();
      const float* pg = grads.at(name).data<float>();
      for (int64_t i = 0; i < p.numel(); ++i) {
        pp[i] -= lr * o_.weight_decay * pp[i];
        pm[i] = o_.beta1 * pm[i] + (1.0f - o_.beta1) * pg[i];
        pv[i] = o_.beta2 * pv[i] + (1.0f - o_.beta2) * pg[i] * pg[i];
        const double mh = pm[i] / c1;
        const double vh = pv[i] / c2;
        pp[i] -= static_cast<float>(lr * mh / (std::sqrt(vh) + o_.epsilon));
      }
    }
  }

  void save_state(const std::string& prefix, std::map<std::string, Tensor>& out) const override {
    save_slots(prefix, "m", m_, out);
    save_slots(prefix, "v", v_, out);
    out[prefix + "t"] = Tensor::scalar<int64_t>(t_);
  }
  void load_state(const std::string& prefix, const std::map<std::string, Tensor>& in,
                  const std::map<std::string, Tensor>& parameters) override {
    load_slots(prefix, "m", in, parameters, m_);
    load_slots(prefix, "v", in, parameters, v_);
    auto t = in.find(prefix + "t");
    QUENCH_CHECK(t != in.end() && t->second.dtype() == DType::kInt64 && t->second.numel() == 1 &&
                     m_.size() == v_.size(),
                 ErrorKind::kIo, "checkpoint AdamW state under '{}' is incomplete", prefix);
    t_ = t->second.data<int64_t>()[0];
  }

 private:
  OptimizerOptions o_;
  int64_t t_ = 0;
  std::map<std::string, Tensor> m_, v_;
};

void check_range(bool ok, const std::string& what) {
  if (!ok) throw Error(ErrorKind::kInvalidArgument, what);
}

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& o) {
  check_range(o.weight_decay >= 0, "weight decay must be >= 0");
  if (o.kind == "sgd") {
    check_range(o.momentum >= 0 && o.momentum < 1, "momentum must be in [0, 1)");
    check_range(!o.nesterov || o.momentum > 0, "Nesterov momentum needs a momentum > 0");
    return std::make_unique<Sgd>(o);
  }
  if (o.kind == "adamw") {
    check_range(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1,
                "AdamW betas must be in [0, 1)");
    check_range(o.epsilon > 0, "AdamW epsilon must be > 0");
    return std::make_unique<AdamW>(o);
  }
  throw Error(ErrorKind::kInvalidArgument,
              "unknown optimizer '" + o.kind + "' (expected sgd or adamw)");
}

void check_schedule(const ScheduleOptions& s) {
  if (s.kind != "cosine" && s.kind != "step" && s.kind != "constant") {
    throw Error(ErrorKind::kInvalidArgument,
                "unknown schedule '" + s.kind + "' (expected cosine, step or constant)");
  }
  check_range(s.total_steps > 0, "the schedule needs at least one step");
  check_range(s.warmup_steps >= 0 && s.warmup_steps < s.total_steps,
              "warm-up steps must be in [0, total steps)");
  check_range(s.step_size > 0, "the step schedule's step size must be > 0");
}

float learning_rate(const ScheduleOptions& s, float base, int64_t step) {
  if (s.kind == "step") {
    // (T15) lr = base · γ^floor(step / step_size)
    return base * static_cast<float>(std::pow(static_cast<double>(s.gamma),
                                              static_cast<double>(step / s.step_size)));
  }
  if (s.kind == "cosine") {
    // (T14) warm-up: lr = base · (step + 1) / W for step < W; then
    //       lr = base · (1 + cos(π · (step − W) / (T − W))) / 2
    if (step < s.warmup_steps) {
      return base * static_cast<float>(step + 1) / static_cast<float>(s.warmup_steps);
    }
    const double progress = static_cast<double>(step - s.warmup_steps) /
                            static_cast<double>(s.total_steps - s.warmup_steps);
    return static_cast<float>(base * 0.5 * (1.0 + std::cos(std::numbers::pi * progress)));
  }
  return base;
}

}  // namespace quench::train
