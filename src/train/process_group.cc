#include "train/process_group.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "quench/error.h"

#ifdef QUENCH_WITH_MPI
#include <mpi.h>
#endif

namespace quench::train {

namespace {

// The process count mpirun announces (OpenMPI: OMPI_COMM_WORLD_SIZE; MPICH's Hydra: PMI_SIZE),
// or 0 when not started by mpirun.
int launcher_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    if (const char* v = std::getenv(name)) return std::atoi(v);
  }
  return 0;
}

#ifdef QUENCH_WITH_MPI
// MPI counts are int: long buffers go in pieces.
constexpr size_t kMaxCount = size_t{1} << 30;
#endif

}  // namespace

ProcessGroup::ProcessGroup() {
  const int announced = launcher_size();
  if (announced <= 1) return;
#ifdef QUENCH_WITH_MPI
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) MPI_Init(nullptr, nullptr);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  mpi_ = true;
#else
  throw Error(ErrorKind::kUnsupported,
              "started by mpirun with " + std::to_string(announced) +
                  " processes, but this quench was built without MPI (install libopenmpi-dev "
                  "and rebuild, or run one process)");
#endif
}

ProcessGroup::~ProcessGroup() {
#ifdef QUENCH_WITH_MPI
  if (!mpi_) return;
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (finalised) return;
  if (failed_) {
    MPI_Abort(MPI_COMM_WORLD, 1);
  } else {
    MPI_Finalize();
  }
#endif
}

ProcessGroup& ProcessGroup::world() {
  static ProcessGroup group;
  return group;
}

#ifdef QUENCH_WITH_MPI
namespace {

// In-place MPI_Allreduce (sum) of `values`, in pieces of at most kMaxCount elements.
template <class T>
void sum_all(std::span<T> values, MPI_Datatype type) {
  for (size_t at = 0; at < values.size(); at += kMaxCount) {
    const size_t n = std::min(kMaxCount, values.size() - at);
    MPI_Allreduce(MPI_IN_PLACE, values.data() + at, static_cast<int>(n), type, MPI_SUM,
                  MPI_COMM_WORLD);
  }
}

}  // namespace
#endif

void ProcessGroup::sum(std::span<float> values) const {
#ifdef QUENCH_WITH_MPI
  if (mpi_ && size_ > 1) sum_all(values, MPI_FLOAT);
#else
  (void)values;
#endif
}

void ProcessGroup::sum(std::span<double> values) const {
#ifdef QUENCH_WITH_MPI
  if (mpi_ && size_ > 1) sum_all(values, MPI_DOUBLE);
#else
  (void)values;
#endif
}

void ProcessGroup::broadcast(std::span<float> values) const {
#ifdef QUENCH_WITH_MPI
  if (!mpi_ || size_ <= 1) return;
  for (size_t at = 0; at < values.size(); at += kMaxCount) {
    const size_t n = std::min(kMaxCount, values.size() - at);
    MPI_Bcast(values.data() + at, static_cast<int>(n), MPI_FLOAT, 0, MPI_COMM_WORLD);
  }
#else
  (void)values;
#endif
}

}  // namespace quench::train
