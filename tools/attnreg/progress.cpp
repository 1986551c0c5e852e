#include "progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

namespace attnreg::cli {

Progress::Progress(std::string label, int total, std::FILE* stream)
    : label_(std::move(label)), total_(total), stream_(stream), tty_(isatty(fileno(stream)) == 1) {}

Progress::~Progress() {
  if (tty_ && done_ > 0) fmt::print(stream_, "\n");
}

void Progress::step(std::string_view what) {
  ++done_;
  if (!tty_) {
    fmt::print(stream_, "{} [{}/{}] {}\n", label_, done_, total_, what);
    return;
  }
  constexpr int kWidth = 30;
  const int filled = total_ > 0 ? done_ * kWidth / total_ : kWidth;
  // \r and clear-to-end-of-line redraw the bar in place.
  fmt::print(stream_, "\r\x1b[K{} [{:#<{}}{:<{}}] {}/{} {}", label_, "", filled, "", kWidth - filled, done_,
             total_, what);
  std::fflush(stream_);
}

}  // namespace attnreg::cli
