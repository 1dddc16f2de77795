#pragma once
// The compute device a configuration's `device` key names. Light header (c10's Device only).
#include <c10/core/Device.h>

#include <string>

namespace jess {

// auto: CUDA when LibTorch has it, else the CPU; cuda without a device is a ConfigError.
c10::Device pick_device(const std::string& device);

}  // namespace jess
