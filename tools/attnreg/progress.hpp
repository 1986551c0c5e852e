// A progress indicator on stderr for long sweeps: a redrawn bar when stderr
// is a terminal, one plain line per step otherwise (logs, CI).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace attnreg::cli {

/// Progress over a known number of steps. Not thread-safe: one thread drives it.
class Progress {
 public:
  /// total steps under label; draws on stream (stderr by default).
  Progress(std::string label, int total, std::FILE* stream = stderr);
  /// Ends the bar's line if one was drawn.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Marks one more step done; what names it (e.g. "batch=8 ctx=1024").
  void step(std::string_view what);

 private:
  std::string label_;
  int total_;
  int done_ = 0;
  std::FILE* stream_;
  bool tty_;
};

}  // namespace attnreg::cli
