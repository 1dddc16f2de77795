#include "jess/core/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace jess {

bool progress_enabled() {
  if (const char* env = std::getenv("JESS_PROGRESS")) return std::strcmp(env, "0") != 0;
  return isatty(STDERR_FILENO) == 1;
}

std::string format_duration(double s) {
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) % 3600) / 60);
  }
  return buf;
}

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), enabled_(progress_enabled()) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
  if (enabled_) draw(false);
}

Progress::~Progress() {
  if (!finished_) finish();
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::advance(int64_t n) {
  done_ += n;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw(false);
}

void Progress::set_postfix(const std::string& text) {
  std::lock_guard<std::mutex> lock(mutex_);
  postfix_ = text;
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  draw(true);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

void Progress::draw(bool final_draw) {
  const int64_t done = done_.load();
  const double elapsed = elapsed_seconds();
  const double frac = total_ > 0 ? std::min(1.0, double(done) / double(total_)) : 0.0;
  const int width = 28;
  const int filled = int(frac * width);
  std::string bar(filled, '#');
  bar += std::string(width - filled, '.');
  const double rate = elapsed > 0 ? done / elapsed : 0.0;
  std::string eta = (rate > 0 && !final_draw && done < total_) ? " eta " + format_duration((total_ - done) / rate)
                                                               : "";
  std::fprintf(stderr, "\r%s [%s] %lld/%lld %s  %.1f %s/s  %s%s%s%s\033[K", label_.c_str(), bar.c_str(),
               (long long)done, (long long)total_, unit_.c_str(), rate, unit_.c_str(),
               format_duration(elapsed).c_str(), eta.c_str(), postfix_.empty() ? "" : "  ", postfix_.c_str());
  std::fflush(stderr);
}

}  // namespace jess
