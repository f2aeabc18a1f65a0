// Reading tensor bytes from external-data files, confined to the model's folder.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace quench::onnx_io {

// Resolves `location` against `base_dir`; kInvalidModel when it is absolute, empty, or resolves
// (after "..", and symbolic links) to a place outside `base_dir`.
std::filesystem::path resolve_external_path(const std::filesystem::path& base_dir,
                                            const std::string& location,
                                            const std::string& tensor_name);

// Reads `length` bytes at `offset` of the file; kInvalidModel if the file is shorter.
void read_external_bytes(const std::filesystem::path& file, uint64_t offset, uint64_t length,
                         void* out, const std::string& tensor_name);

}  // namespace quench::onnx_io
