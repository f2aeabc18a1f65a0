// The processes that train one model together (data-parallel training, docs/training.md
// (T23)-(T24)): MPI's world when quench runs under mpirun and was built with MPI, else this
// process alone. Each process trains on its shard of every global batch; gradients are averaged
// across processes every step, so that every process applies the same update.
#pragma once

#include <span>

namespace quench::train {

class ProcessGroup {
 public:
  // The group of this process: initialises MPI on the first call when the environment says the
  // process was started by mpirun (OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK). Throws
  // kUnsupported when started by mpirun with more than one process but built without MPI.
  static ProcessGroup& world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  bool distributed() const { return size_ > 1; }

  // Element-wise sum over every process, in place (a no-op alone).
  void sum(std::span<float> values) const;
  void sum(std::span<double> values) const;
  // Every process receives the root's values.
  void broadcast(std::span<float> values) const;
  // Marks the group as failed: at exit, MPI is aborted (the other processes would otherwise wait
  // in the next collective) instead of finalised.
  void fail() { failed_ = true; }

  ~ProcessGroup();

 private:
  ProcessGroup();
  int rank_ = 0;
  int size_ = 1;
  bool mpi_ = false;
  bool failed_ = false;
};

}  // namespace quench::train
