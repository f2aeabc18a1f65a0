// The dataset implementations behind open_dataset.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/stored_array.h"
#include "quench/data.h"

namespace quench {

// Images [N, ...] (uint8 scaled by options.scale, or float) with optional integer labels [N].
// `source` names the dataset in errors.
std::unique_ptr<Dataset> make_array_dataset(const StoredArray& images,
                                            const std::optional<StoredArray>& labels,
                                            std::vector<std::string> class_names,
                                            const DataOptions& options, const std::string& source);

// One array per model input, named, with optional labels; `source` names the dataset in errors.
std::unique_ptr<Dataset> make_named_arrays_dataset(
    std::vector<std::pair<std::string, StoredArray>> arrays, std::optional<StoredArray> labels,
    const std::string& source);

// `count` samples of uniform [0,1) noise of `shape`, deterministic for options.seed.
std::unique_ptr<Dataset> make_random_dataset(int64_t count, const Shape& shape,
                                             const DataOptions& options);

// Images in `dir`: class subfolders (labeled) or a flat folder (unlabeled).
std::unique_ptr<Dataset> make_folder_dataset(const std::string& dir, const DataOptions& options);

// Checks that [start, start + count) lies in [0, size); kInvalidArgument otherwise.
void check_batch_range(int64_t start, int64_t count, int64_t size);

// A float32 tensor [count, sample_shape...].
Tensor make_batch_tensor(int64_t count, const Shape& sample_shape);

}  // namespace quench
