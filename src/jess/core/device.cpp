#include "jess/core/device.h"

#include <torch/cuda.h>

#include "jess/core/config.h"

namespace jess {

c10::Device pick_device(const std::string& d) {
  const bool cuda = torch::cuda::is_available();
  if (d == "cuda" && !cuda) throw ConfigError("config key 'device': cuda requested but no CUDA device is available");
  return (d == "cuda" || (d == "auto" && cuda)) ? c10::Device(c10::kCUDA) : c10::Device(c10::kCPU);
}

}  // namespace jess
