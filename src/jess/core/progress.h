#pragma once
// A progress bar for long work, drawn on stderr only when stderr is a terminal (JESS_PROGRESS=0
// turns it off, JESS_PROGRESS=1 forces it on). Safe to advance from several threads.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace jess {

bool progress_enabled();

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit = "it");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(int64_t n = 1);
  void set_postfix(const std::string& text);  // shown after the rate, e.g. "loss 1.23"
  void finish();                              // draws the final state and ends the line
  double elapsed_seconds() const;
  int64_t done() const { return done_.load(); }

 private:
  void draw(bool final_draw);
  std::string label_, unit_, postfix_;
  int64_t total_;
  std::atomic<int64_t> done_{0};
  bool enabled_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::mutex mutex_;
};

std::string format_duration(double seconds);

}  // namespace jess
