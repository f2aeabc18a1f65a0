// What data-parallel training exchanges between the processes of a ProcessGroup, on the tape's
// tensors (docs/training.md (T23)-(T24)). Each is a no-op for a group of one process.
#pragma once

#include <map>
#include <string>

#include "quench/tensor.h"
#include "train/process_group.h"
#include "train/tape.h"

namespace quench::train {

// (T23) The gradients averaged over the processes: every process then applies the same update.
void average_gradients(const ProcessGroup& group, std::map<std::string, Tensor>& grads);

// (T24) Batch-norm running statistics (each process saw its own slices) averaged.
void average_buffers(const ProcessGroup& group, Tape& tape);

// (T24) At the end of an epoch: the root's parameters given to every process (they agree up to
// the order of the sums; the root's are the ones written), and the buffers averaged.
void synchronise(const ProcessGroup& group, Tape& tape);

}  // namespace quench::train
