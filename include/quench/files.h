// Output files: checked before long work starts, written atomically, temporary folders cleaned up.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace quench {

// Checks, before long work starts, that `path` can be created or replaced: its folder exists
// and is writable, and `path` is not a folder. kIo naming `what` and the reason otherwise.
void check_writable(const std::filesystem::path& path, std::string_view what = "output");

// Writes `bytes` to a temporary file beside `path`, then renames it over `path`: readers see the
// old file or the new one, never a part. On failure `path` is untouched.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// A fresh folder under the system's temporary folder, removed with everything in it when the
// object goes away (also during stack unwinding after an error). kIo when it cannot be created.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "quench");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // The path of `name` inside the folder (its parent folders are created).
  std::string file(const std::string& name) const;

 private:
  std::filesystem::path path_;
};

}  // namespace quench
