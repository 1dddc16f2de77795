#include "jess/train/trainer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <torch/nn/module.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/serialize.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <memory>
#include <sstream>

#include "jess/core/config.h"
#include "jess/core/files.h"
#include "jess/core/plot.h"
#include "jess/core/progress.h"
#include "jess/core/version.h"
#include "jess/dist/dist.h"
#include "jess/dist/grad_sync.h"
#include "jess/nn/batch_norm.h"
#include "jess/optim/lars.h"

namespace jess::train {

void TrainOptions::describe(ConfigSchema& s, const std::string& p) {
  s.add(p + "epochs", epochs, "passes over the training data", check::positive_int());
  s.add(p + "optimizer", optimizer, "adamw | adam | lars (SSL recipes: momentum, trust ratio; biases/norms excluded)",
        check::one_of({"adamw", "adam", "lars"}));
  s.add(p + "momentum", momentum, "lars: momentum", check::in_range(0, 1));
  s.add(p + "lars_eta", lars_eta, "lars: trust coefficient eta", check::positive());
  s.add(p + "lr", lr, "peak learning rate", check::positive());
  s.add(p + "weight_decay", weight_decay, "weight decay (not on biases and normalisation parameters)",
        check::non_negative());
  s.add(p + "schedule", schedule, "constant | warmup_cosine (per step) | step (x lr_gamma at each milestone epoch)",
        check::one_of({"constant", "warmup_cosine", "step"}));
  s.add(p + "warmup_epochs", warmup_epochs, "linear warm-up length for warmup_cosine", check::non_negative());
  s.add(p + "final_lr_fraction", final_lr_fraction, "cosine floor as a fraction of lr", check::in_range(0, 1));
  s.add(p + "lr_milestones", lr_milestones, "step schedule: comma-separated epochs where lr is multiplied by lr_gamma");
  s.add(p + "lr_gamma", lr_gamma, "step schedule: factor at each milestone", check::in_range(0, 1));
  s.add(p + "clip_grad_norm", clip_grad_norm, "clip the global gradient norm to this (0: off)", check::non_negative());
  s.add(p + "checkpoint_every", checkpoint_every, "steps between checkpoints (0: at epoch ends only)",
        check::int_at_least(0));
  s.add(p + "log_every", log_every, "steps between metric rows", check::positive_int());
  s.add(p + "plots", plots, "write PNG plots of the loss and the epoch metrics");
}

std::vector<int64_t> TrainOptions::milestones() const {
  std::vector<int64_t> out;
  std::string item;
  std::istringstream in(lr_milestones);
  while (std::getline(in, item, ',')) {
    if (item.find_first_not_of(" ") == std::string::npos) continue;
    size_t used = 0;
    int64_t m = -1;
    try {
      m = std::stoll(item, &used);
    } catch (const std::exception&) {
    }
    if (m < 0 || item.find_first_not_of(" ", used) != std::string::npos)
      throw ConfigError("train.lr_milestones: '" + item + "' is not a non-negative epoch number (e.g. 5,10,15)");
    out.push_back(m);
  }
  return out;
}

void TrainOptions::validate() const {
  milestones();
  if (schedule == "warmup_cosine" && warmup_epochs >= double(epochs))
    throw ConfigError("train.warmup_epochs (" + format_double(warmup_epochs) + ") must be below train.epochs (" +
                      std::to_string(epochs) + ")");
}

// ---------------------------------------------------------------- checkpoint files

void write_file_atomic(const std::string& path, const std::vector<char>& bytes) {
  jess::write_file_atomic(path, bytes.data(), bytes.size());
}

std::map<std::string, at::Tensor> state_dict(const torch::nn::Module& m) {
  std::map<std::string, at::Tensor> out;
  // Host copies in the standard contiguous layout (a channels-last model saves what an NCHW one does):
  // checkpoints load anywhere (Python's torch.load without a GPU included).
  auto host = [](const at::Tensor& t) { return t.detach().to(at::kCPU, false, true).contiguous(); };
  for (const auto& kv : m.named_parameters(true)) out[kv.key()] = host(kv.value());
  for (const auto& kv : m.named_buffers(true)) out[kv.key()] = host(kv.value());
  return out;
}

void load_state_dict(torch::nn::Module& m, const std::map<std::string, at::Tensor>& state, const std::string& origin) {
  torch::NoGradGuard g;
  size_t used = 0;
  auto copy = [&](const std::string& key, at::Tensor& dst) {
    auto it = state.find(key);
    if (it == state.end()) throw std::invalid_argument(origin + ": the checkpoint has no tensor '" + key + "'");
    if (it->second.sizes() != dst.sizes()) {
      std::ostringstream s;
      s << origin << ": tensor '" << key << "' has shape " << it->second.sizes() << " in the checkpoint but "
        << dst.sizes() << " in the model (a different architecture or configuration?)";
      throw std::invalid_argument(s.str());
    }
    dst.copy_(it->second);
    ++used;
  };
  for (auto& kv : m.named_parameters(true)) copy(kv.key(), kv.value());
  for (auto& kv : m.named_buffers(true)) copy(kv.key(), kv.value());
  if (used != state.size())
    throw std::invalid_argument(origin + ": the checkpoint holds " + std::to_string(state.size()) +
                                " tensors but the model has " + std::to_string(used));
}

namespace {

c10::impl::GenericDict tensor_dict(const std::map<std::string, at::Tensor>& m) {
  c10::impl::GenericDict d(c10::StringType::get(), c10::TensorType::get());
  for (const auto& kv : m) d.insert(kv.first, kv.second);
  return d;
}

at::Tensor bytes_tensor(const std::string& bytes) {
  auto t = at::empty({int64_t(bytes.size())}, at::kByte);
  std::memcpy(t.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  return t;
}

// Data-parallel runs: rank 0 reads the file and every rank gets its bytes (the run directory need not be
// shared between machines).
std::vector<char> bytes_from_main(const std::string& path) {
  std::vector<char> bytes;
  if (dist::is_main()) bytes = read_checkpoint_bytes(path);
  at::Tensor size = at::full({1}, int64_t(bytes.size()), at::kLong);
  dist::broadcast_(size);
  at::Tensor t = at::empty({size.item<int64_t>()}, at::kByte);
  if (dist::is_main() && !bytes.empty()) std::memcpy(t.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  dist::broadcast_(t);
  return std::vector<char>(reinterpret_cast<const char*>(t.data_ptr<uint8_t>()),
                           reinterpret_cast<const char*>(t.data_ptr<uint8_t>()) + t.numel());
}

bool exists_on_main(const std::string& path) {
  at::Tensor flag = at::full({1}, dist::is_main() && file_exists(path) ? int64_t(1) : int64_t(0), at::kLong);
  dist::broadcast_(flag);
  return flag.item<int64_t>() != 0;
}



std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  std::ostringstream s;
  s << std::setprecision(9) << v;
  return s.str();
}

// Keeps only the rows of a log whose global step is <= `last` (logs are cut back on resume so that a
// resumed run's logs equal an uninterrupted run's).
void truncate_log(const std::string& path, int64_t last, bool csv) {
  if (!file_exists(path)) return;
  std::ifstream in(path);
  std::string line, kept;
  bool header = csv;
  while (std::getline(in, line)) {
    if (header) {
      kept += line + "\n";
      header = false;
      continue;
    }
    int64_t g = -1;
    if (csv) {
      g = std::atoll(line.c_str());
    } else {
      auto p = line.find("\"global_step\":");
      if (p != std::string::npos) g = std::atoll(line.c_str() + p + 14);
    }
    if (g >= 0 && g <= last) kept += line + "\n";
  }
  std::vector<char> bytes(kept.begin(), kept.end());
  write_file_atomic(path, bytes);
}

class MetricLog {
 public:
  MetricLog(const std::string& dir, bool fresh, int64_t resume_step) : dir_(dir) {
    if (fresh) {
      for (const char* f : {"metrics.jsonl", "steps.csv", "epochs.csv"}) std::remove((dir + "/" + f).c_str());
    } else {
      truncate_log(dir + "/metrics.jsonl", resume_step, false);
      truncate_log(dir + "/steps.csv", resume_step, true);
      truncate_log(dir + "/epochs.csv", resume_step, true);
      load_history();
    }
  }
  void row(const std::string& kind, int64_t global_step, int64_t epoch,
           const std::vector<std::pair<std::string, double>>& values) {
    std::ofstream j(dir_ + "/metrics.jsonl", std::ios::app);
    j << "{\"kind\": \"" << kind << "\", \"global_step\": " << global_step << ", \"epoch\": " << epoch;
    for (const auto& kv : values) j << ", \"" << kv.first << "\": " << json_number(kv.second);
    j << "}\n";
    const std::string csv = dir_ + "/" + kind + "s.csv";
    const bool new_file = !file_exists(csv);
    std::ofstream c(csv, std::ios::app);
    if (new_file) {
      c << "global_step,epoch";
      for (const auto& kv : values) c << "," << kv.first;
      c << "\n";
    }
    c << global_step << "," << epoch;
    for (const auto& kv : values) c << "," << json_number(kv.second);
    c << "\n";
    j.flush();
    c.flush();
    if (!j || !c)  // the checkpoints are written atomically; the logs are cut back to the last one on resume
      throw std::runtime_error("appending to the logs in '" + dir_ + "' failed (disk full, or a file-size limit?); "
                               "resume from the last checkpoint once there is room");
    auto& h = kind == "step" ? steps_ : epochs_;
    for (const auto& kv : values) h[kv.first].emplace_back(kind == "step" ? double(global_step) : double(epoch + 1), kv.second);
  }
  void plot() const {
    auto series = [](const std::vector<std::pair<double, double>>& pts, const std::string& label) {
      plot::Series s;
      for (const auto& p : pts)
        if (std::isfinite(p.second)) s.x.push_back(p.first), s.y.push_back(p.second);
      s.label = label;
      return s;
    };
    auto it = steps_.find("loss");
    if (it != steps_.end() && it->second.size() >= 2) {
      plot::LineOptions o;
      o.title = "training loss";
      o.x_label = "step";
      o.y_label = "loss";
      plot::lines({series(it->second, "loss")}, o, dir_ + "/training_loss.png");
    }
    for (const auto& kv : epochs_) {
      if (kv.second.size() < 2 || kv.first == "seconds") continue;
      plot::LineOptions o;
      o.title = kv.first + " per epoch";
      o.x_label = "epoch";
      o.y_label = kv.first;
      auto s = series(kv.second, kv.first);
      s.markers = true;
      plot::lines({s}, o, dir_ + "/training_" + kv.first + ".png");
    }
  }

 private:
  void load_history() {
    std::ifstream in(dir_ + "/metrics.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      const bool step = line.find("\"kind\": \"step\"") != std::string::npos;
      // Parse `"name": value` pairs after the fixed prefix.
      size_t pos = line.find("\"epoch\":");
      if (pos == std::string::npos) continue;
      const int64_t epoch = std::atoll(line.c_str() + pos + 8);
      const int64_t g = std::atoll(line.c_str() + line.find("\"global_step\":") + 14);
      while ((pos = line.find(", \"", pos)) != std::string::npos) {
        const size_t k0 = pos + 3, k1 = line.find('"', k0);
        const std::string key = line.substr(k0, k1 - k0);
        const double v = line.compare(k1 + 3, 4, "null") == 0 ? NAN : std::atof(line.c_str() + k1 + 3);
        (step ? steps_ : epochs_)[key].emplace_back(step ? double(g) : double(epoch + 1), v);
        pos = k1;
      }
    }
  }
  std::string dir_;
  std::map<std::string, std::vector<std::pair<double, double>>> steps_, epochs_;
};

}  // namespace

namespace {
// The epoch metrics of the last row of epochs.csv (a finished run resumed: no epoch ran here).
std::vector<std::pair<std::string, double>> last_logged_epoch_metrics(const std::string& dir) {
  std::ifstream in(dir + "/epochs.csv");
  std::string header, line, last;
  if (!std::getline(in, header)) return {};
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  auto split = [](const std::string& t) {
    std::vector<std::string> out;
    std::stringstream ss(t);
    std::string c;
    while (std::getline(ss, c, ',')) out.push_back(c);
    return out;
  };
  auto names = split(header), values = split(last);
  std::vector<std::pair<std::string, double>> m;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (names[i] == "global_step" || names[i] == "epoch" || names[i] == "loss" || names[i] == "seconds") continue;
    double v = 0;
    if (parse_double(values[i], v)) m.emplace_back(names[i], v);
  }
  return m;
}
}  // namespace

namespace {
// A run written by an older jess resumes: keys its stored configuration lacks (added since) take their
// current values, with a note; keys removed since are noted; a changed value is refused unless it is
// safe to change on resume: train.epochs may grow (the warm-up + cosine schedule is recomputed for the
// new length from the resume point on, so the learning rate continues from where the longer schedule
// is at this step), and the logging/checkpoint cadence and plots never change the weights.
void check_resumable(const std::string& stored, const std::string& current, const std::string& path, bool say) {
  if (stored == current) return;
  const ConfigDifference d = compare_configs(stored, current);
  std::vector<std::string> refused, notes;
  for (const auto& c : d.changed) {
    if (c.key == "train.log_every" || c.key == "train.checkpoint_every" || c.key == "train.plots") continue;
    if (c.key == "train.epochs") {
      int64_t a = 0, b = 0;
      if (parse_int64(c.stored, a) && parse_int64(c.current, b) && b >= a) {
        if (b > a)
          notes.push_back("train.epochs extended from " + c.stored + " to " + c.current +
                          " (the learning-rate schedule is recomputed for the new length from here on)");
        continue;
      }
    }
    refused.push_back("'" + c.key + "' was " + (c.stored.empty() ? "empty" : c.stored) + ", now " +
                      (c.current.empty() ? "empty" : c.current));
  }
  if (!refused.empty()) {
    std::string list;
    for (size_t i = 0; i < refused.size() && i < 5; ++i) list += (i ? "; " : "") + refused[i];
    if (refused.size() > 5) list += "; and " + std::to_string(refused.size() - 5) + " more";
    throw ConfigError("'" + path + "' was written with a different configuration (" + list +
                      "); resume it with the same configuration, or train into a new --out directory (or pass "
                      "--restart to overwrite it)");
  }
  for (const auto& a : d.added)
    notes.push_back("the run's configuration lacks '" + a.first + "' (added since it was written): using " + a.first +
                    ": " + (a.second.empty() ? "\"\"" : a.second));
  for (const auto& r : d.removed) notes.push_back("'" + r.first + "' (" + r.second + ") is no longer a configuration key: ignored");
  if (say)
    for (const auto& n : notes) std::fprintf(stderr, "note: resuming %s: %s\n", path.c_str(), n.c_str());
}
}  // namespace

double learning_rate(const TrainOptions& o, int64_t g, int64_t steps_per_epoch) {
  if (o.schedule == "constant") return o.lr;
  if (o.schedule == "step") {  // MultiStepLR: lr * gamma^(milestones passed), per epoch
    const int64_t epoch = g / std::max<int64_t>(1, steps_per_epoch);
    double lr = o.lr;
    for (int64_t m : o.milestones())
      if (epoch >= m) lr *= o.lr_gamma;
    return lr;
  }
  const double total = double(o.epochs * steps_per_epoch);
  const double warm = o.warmup_epochs * double(steps_per_epoch);
  if (double(g) < warm) return o.lr * (double(g) + 1) / warm;  // linear warm-up (Goyal et al. 2017)
  const double progress = total > warm ? (double(g) - warm) / (total - warm) : 1.0;
  const double floor = o.lr * o.final_lr_fraction;
  return floor + (o.lr - floor) * 0.5 * (1 + std::cos(M_PI * std::min(1.0, progress)));
}


TrainResult train(TrainTask& task, const TrainOptions& o, const std::string& out_dir, const std::string& config_yaml,
                  const std::string& label) {
  o.validate();
  const bool parallel = dist::active(), main_rank = dist::is_main();  // only rank 0 writes files
  if (main_rank) make_directories(out_dir);
  // One writer per run directory: a second process training into it (or the same run started twice)
  // stops here instead of interleaving checkpoints and logs; the kernel drops the lock if we die.
  std::unique_ptr<DirectoryLock> lock;
  if (main_rank) lock = std::make_unique<DirectoryLock>(out_dir);
  if (parallel) dist::check_same_everywhere("configuration", config_yaml);
  torch::nn::Module& model = task.model();
  const int64_t spe = task.steps_per_epoch();
  if (spe < 1) throw std::invalid_argument("the training data gives no full batch (fewer samples than the batch size)");

  // Optimiser: no weight decay on biases and normalisation parameters (tensors of dimension <= 1), nor
  // on what the task declares plain.
  std::vector<at::Tensor> decay, no_decay, all;
  for (const auto& kv : model.named_parameters(true)) {
    const auto& p = kv.value();
    if (!p.requires_grad()) continue;
    (task.plain_parameter(kv.key(), p) ? no_decay : decay).push_back(p);
    all.push_back(p);
  }
  std::unique_ptr<torch::optim::Optimizer> opt;
  if (o.optimizer == "adamw") {
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay)));
    groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(o.lr).weight_decay(0)));
    opt = std::make_unique<torch::optim::AdamW>(std::move(groups), torch::optim::AdamWOptions(o.lr));
  } else if (o.optimizer == "lars") {
    opt = std::make_unique<optim::Lars>(
        optim::lars_groups(decay, no_decay,
                           optim::LarsOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay).eta(o.lars_eta)),
        optim::LarsOptions(o.lr));
  } else {
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, std::make_unique<torch::optim::AdamOptions>(torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay)));
    groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamOptions>(torch::optim::AdamOptions(o.lr).weight_decay(0)));
    opt = std::make_unique<torch::optim::Adam>(std::move(groups), torch::optim::AdamOptions(o.lr));
  }

  const std::string ckpt_path = out_dir + "/checkpoint.pt";
  TrainResult result;
  int64_t start_epoch = 0, start_step = 0, g = 0;
  double epoch_loss = 0;  // running sum over the current epoch's steps (checkpointed)
  int64_t epoch_n = 0;
  if (o.resume && exists_on_main(ckpt_path)) {
    const ResumeState d = parse_checkpoint(bytes_from_main(ckpt_path), ckpt_path);
    check_resumable(d.config, config_yaml, ckpt_path, main_rank);
    load_state_dict(model, d.model, ckpt_path);
    if (!d.optimizer.defined()) throw std::invalid_argument("'" + ckpt_path + "' holds no optimiser state to resume from");
    try {
      torch::serialize::InputArchive ar;
      ar.load_from(reinterpret_cast<const char*>(d.optimizer.data_ptr<uint8_t>()), size_t(d.optimizer.numel()));
      opt->load(ar);
    } catch (const c10::Error& e) {
      throw std::invalid_argument("'" + ckpt_path + "': the optimiser state cannot be restored (" +
                                  std::string(e.what_without_backtrace()).substr(0, 200) + ")");
    }
    if (d.rng.defined()) {
      at::Generator gen = at::detail::getDefaultCPUGenerator();
      gen.set_state(d.rng);
    }
    start_epoch = d.epoch;
    start_step = d.step;
    g = d.global_step;
    {
      epoch_loss = d.epoch_loss_sum;
      epoch_n = d.epoch_loss_count;
    }
    result.resumed = true;
  }
  std::unique_ptr<MetricLog> log;
  if (main_rank) log = std::make_unique<MetricLog>(out_dir, !result.resumed, g);
  // Data-parallel: every rank starts from rank 0's weights (and buffers), and gradients are averaged
  // over ranks while backward runs (grad_sync.h). Without synchronised BatchNorm, buffers follow rank 0
  // at every step, as DDP's broadcast_buffers does.
  std::unique_ptr<dist::GradientSync> sync;
  std::vector<at::Tensor> buffers;
  if (parallel) {
    torch::NoGradGuard ng;
    std::vector<at::Tensor> params;
    for (auto& p : model.parameters(true)) params.push_back(p.detach());
    dist::broadcast_coalesced_(params);
    for (auto& b : model.buffers(true)) buffers.push_back(b);
    dist::broadcast_coalesced_(buffers);
    sync = std::make_unique<dist::GradientSync>(all);
  }
  const char* kill_rank_env = std::getenv("JESS_TEST_KILL_RANK");  // tests: which rank dies (default: all)
  const bool may_die = !kill_rank_env || std::atoi(kill_rank_env) == dist::rank();

  auto save = [&](int64_t epoch, int64_t step, const std::string& path) {
    if (!main_rank) return;
    c10::impl::GenericDict d(c10::StringType::get(), c10::AnyType::get());
    d.insert("model", tensor_dict(state_dict(model)));
    std::string archive;
    {
      torch::serialize::OutputArchive ar;
      opt->save(ar);
      ar.save_to([&](const void* data, size_t n) {
        archive.append(static_cast<const char*>(data), n);
        return n;
      });
    }
    d.insert("optimizer", bytes_tensor(archive));
    d.insert("rng", at::detail::getDefaultCPUGenerator().get_state());
    d.insert("epoch", epoch);
    d.insert("step", step);
    d.insert("global_step", g);
    d.insert("epoch_loss_sum", step == 0 ? 0.0 : epoch_loss);
    d.insert("epoch_loss_count", step == 0 ? int64_t(0) : epoch_n);
    d.insert("config", config_yaml);
    d.insert("jess_version", std::string(JESS_VERSION));
    d.insert("format", kCheckpointFormat);
    d.insert("extra", tensor_dict(task.extra_state()));
    write_file_atomic(path, torch::pickle_save(c10::IValue(d)));
  };

  const char* kill_env = std::getenv("JESS_TEST_KILL_AT_STEP");  // tests: die like a killed process
  const int64_t kill_at = kill_env ? std::atoll(kill_env) : -1;

  Progress bar(label, o.epochs * spe, "step");
  bar.advance(g);
  const auto t0 = std::chrono::steady_clock::now();
  int64_t samples = 0, window_samples = 0;
  auto window_t = t0;
  double window_loss = 0;
  int64_t window_n = 0;
  task.seek(start_epoch, start_step);
  model.train();
  for (int64_t epoch = start_epoch; epoch < o.epochs; ++epoch) {
    const auto te = std::chrono::steady_clock::now();
    if (epoch != start_epoch || start_step == 0) epoch_loss = 0, epoch_n = 0;
    for (int64_t step = epoch == start_epoch ? start_step : 0; step < spe; ++step) {
      const double lr = learning_rate(o, g, spe);
      for (auto& group : opt->param_groups()) group.options().set_lr(lr);
      if (parallel && !nn::sync_batch_norm()) {
        torch::NoGradGuard ng;
        dist::broadcast_coalesced_(buffers);
      }
      const dist::CommStats comm0 = dist::comm_stats();
      StepOutput out = task.step(epoch, step);
      double loss = out.loss.item<double>();
      if (parallel) {  // the global batch's loss: the mean of the ranks' (equal shards)
        at::Tensor l = at::full({1}, loss, at::kDouble);
        dist::all_reduce_sum_(l);
        loss = l.item<double>() / double(dist::world_size());
        out.samples *= dist::world_size();
      }
      auto diverged = [&](const std::string& what) {
        std::ostringstream s;
        s << what << " at epoch " << epoch + 1 << ", step " << step + 1 << " (global step " << g + 1
          << "); stopped before the update. ";
        if (file_exists(ckpt_path)) s << "The last good checkpoint is kept: " << ckpt_path << ". ";
        s << "Try a lower train.lr or set train.clip_grad_norm.";
        bar.finish();
        throw TrainingDiverged(s.str());
      };
      if (!std::isfinite(loss)) diverged("the loss is " + std::string(std::isnan(loss) ? "NaN" : "infinite"));
      opt->zero_grad();
      if (sync) sync->begin();
      out.loss.backward();
      if (sync) sync->finish();
      if (parallel) {  // the communication of this step: time waiting in collectives, megabytes sent
        const dist::CommStats comm1 = dist::comm_stats();
        out.metrics.emplace_back("comm_ms", 1e3 * (comm1.seconds - comm0.seconds));
        out.metrics.emplace_back("comm_mb", (comm1.bytes - comm0.bytes) / 1e6);
      }
      const double gnorm = torch::nn::utils::clip_grad_norm_(
          all, o.clip_grad_norm > 0 ? o.clip_grad_norm : std::numeric_limits<double>::infinity());
      if (!std::isfinite(gnorm)) diverged("the gradient norm is not finite");
      opt->step();
      ++g;
      samples += out.samples;
      window_samples += out.samples;
      window_loss += loss;
      ++window_n;
      epoch_loss += loss;
      ++epoch_n;
      bar.advance();
      if (g % o.log_every == 0 || step + 1 == spe) {
        const auto now = std::chrono::steady_clock::now();
        const double dt = std::chrono::duration<double>(now - window_t).count();
        std::vector<std::pair<std::string, double>> row = {{"step", double(step + 1)},
                                                           {"loss", window_loss / double(window_n)},
                                                           {"lr", lr},
                                                           {"grad_norm", gnorm}};
        for (const auto& m : out.metrics) row.push_back(m);
        row.emplace_back("samples_per_s", dt > 0 ? double(window_samples) / dt : 0.0);
        if (log) log->row("step", g, epoch, row);
        std::ostringstream pf;
        pf << "loss " << std::setprecision(4) << window_loss / double(window_n) << " | " << std::setprecision(0)
           << std::fixed << (dt > 0 ? double(window_samples) / dt : 0.0) << " samples/s";
        bar.set_postfix(pf.str());
        window_t = now, window_samples = 0, window_loss = 0, window_n = 0;
      }
      if (o.checkpoint_every > 0 && g % o.checkpoint_every == 0) save(epoch, step + 1, ckpt_path);
      result.last_loss = loss;
      if (g == kill_at && may_die) std::_Exit(137);
      if (o.stop_after_steps > 0 && g >= o.stop_after_steps) {
        bar.finish();
        result.global_step = g;
        result.checkpoint = ckpt_path;
        return result;
      }
    }
    // End of epoch: label-free metrics in eval mode, then a checkpoint at the next epoch's start.
    std::vector<std::pair<std::string, double>> em;
    {
      torch::NoGradGuard ng;
      model.eval();
      em = task.end_of_epoch(epoch);
      model.train();
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - te).count();
    std::vector<std::pair<std::string, double>> row = {{"loss", epoch_n ? epoch_loss / double(epoch_n) : NAN}};
    for (const auto& m : em) row.push_back(m);
    row.emplace_back("seconds", secs);
    if (log) log->row("epoch", g, epoch, row);
    result.last_epoch_metrics = em;
    save(epoch + 1, 0, ckpt_path);
    if (o.plots && log) log->plot();
    result.epochs_done = epoch + 1;
    if (!progress_enabled() && main_rank) {
      std::ostringstream s;
      s << "  " << label << " epoch " << epoch + 1 << "/" << o.epochs << "  loss " << std::setprecision(5)
        << (epoch_n ? epoch_loss / double(epoch_n) : NAN);
      for (const auto& m : em) s << "  " << m.first << " " << std::setprecision(4) << m.second;
      s << "  (" << format_duration(secs) << ")";
      std::fprintf(stderr, "%s\n", s.str().c_str());
    }
    if (g == kill_at && may_die) std::_Exit(137);
  }
  bar.finish();
  if (result.last_epoch_metrics.empty() && main_rank) result.last_epoch_metrics = last_logged_epoch_metrics(out_dir);
  result.completed = true;
  result.global_step = g;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  result.samples_per_second = result.seconds > 0 ? double(samples) / result.seconds : 0;
  result.checkpoint = ckpt_path;
  return result;
}

}  // namespace jess::train
