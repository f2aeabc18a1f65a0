// Shared by the fuzz targets: the fuzzer's bytes as a file (the readers take paths), limits low
// enough that a fuzzer process never runs out of memory, and the one exception type that is an
// expected answer to bad input.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "quench/error.h"
#include "quench/limits.h"

namespace quench::fuzz {

// Limits for fuzzing: 64 MiB per buffer, 10,000 nodes, 4 megapixels (set once per process).
inline void set_fuzz_limits() {
  static const bool once = [] {
    set_resource_limits(ResourceLimits{64 << 20, 10'000, 4 << 20});
    return true;
  }();
  (void)once;
}

// A file holding `size` bytes of `data`, overwritten by every call in this process.
inline std::filesystem::path as_file(const uint8_t* data, size_t size, const char* extension) {
  static const std::filesystem::path dir = [] {
    std::filesystem::path d =
        std::filesystem::temp_directory_path() / ("quench-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  const std::filesystem::path path = dir / (std::string("input") + extension);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

}  // namespace quench::fuzz
