#include "data/random_access_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/check.h"
#include "quench/error.h"

namespace quench {

RandomAccessFile::RandomAccessFile(const std::filesystem::path& path, std::string_view what)
    : path_(path.string()) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    if (errno == ENOENT) fail(ErrorKind::kIo, "{} '{}' does not exist", what, path_);
    fail(ErrorKind::kIo, "cannot open {} '{}': {}", what, path_, std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    const bool is_dir = S_ISDIR(st.st_mode);
    ::close(fd_);
    fd_ = -1;
    if (is_dir) fail(ErrorKind::kIo, "{} '{}' is a folder, not a file", what, path_);
    fail(ErrorKind::kIo, "{} '{}' is not a regular file", what, path_);
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

RandomAccessFile::~RandomAccessFile() {
  if (fd_ >= 0) ::close(fd_);
}

void RandomAccessFile::read_exact(uint64_t offset, uint64_t bytes, void* dst) const {
  auto* out = static_cast<char*>(dst);
  uint64_t done = 0;
  while (done < bytes) {
    const ssize_t got = ::pread(fd_, out + done, bytes - done, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      fail(ErrorKind::kIo, "error reading '{}': {}", path_, std::strerror(errno));
    }
    if (got == 0) {
      fail(ErrorKind::kIo,
           "'{}' ended at byte {} while reading {} bytes at offset {} (was it changed?)", path_,
           offset + done, bytes, offset);
    }
    done += static_cast<uint64_t>(got);
  }
}

}  // namespace quench
