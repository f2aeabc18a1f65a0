// Whole-file reads and atomic writes (quench/files.h has the public part).
#pragma once

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>

#include "quench/files.h"

namespace quench {

// The file's bytes; kIo naming the path when it is missing or unreadable.
std::string read_file(const std::filesystem::path& path, std::string_view what = "file");

// Calls `write` with a stream to a temporary file beside `path`, then renames it over `path`.
// If `write` throws (or the process is interrupted), the temporary file is removed and `path`
// is untouched.
void write_file_atomic(const std::filesystem::path& path,
                       const std::function<void(std::ostream&)>& write);

}  // namespace quench
