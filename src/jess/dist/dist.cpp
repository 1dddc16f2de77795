// The process group (c10d's TCPStore + ProcessGroupGloo), its collectives, the two autograd collectives
// and the failure diagnosis (dist.h).
#include "jess/dist/dist.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

namespace jess::dist {

namespace {

int env_int(const char* name, int fallback, int min_value) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < min_value || x > 1 << 30)
    throw std::invalid_argument(std::string("the environment variable ") + name + "='" + v + "' is not an integer >= " +
                                std::to_string(min_value));
  return int(x);
}

std::string first_line(const std::string& s) {
  const auto p = s.find('\n');
  return p == std::string::npos ? s : s.substr(0, p);
}

struct State {
  int rank = 0, world = 1;
  double timeout = 300;
  LaunchEnv env;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  std::thread heartbeat;
  std::atomic<bool> stop{false};
  bool failed = false;
  std::mutex mutex;  // collectives are issued from one thread; this guards init/shutdown

  ~State() { stop_heartbeat(); }
  void stop_heartbeat() {
    stop = true;
    if (heartbeat.joinable()) heartbeat.join();
  }
};

State& S() {
  static State s;
  return s;
}

std::chrono::milliseconds ms(double seconds) { return std::chrono::milliseconds(int64_t(seconds * 1000)); }

c10::intrusive_ptr<c10d::TCPStore> connect_store(const LaunchEnv& env, bool server, double timeout) {
  c10d::TCPStoreOptions o;
  o.port = uint16_t(env.master_port);
  o.isServer = server;
  o.numWorkers = c10::nullopt;
  o.waitWorkers = false;
  o.timeout = ms(timeout);
  return c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
}

std::string alive_key(int r) { return "jess/alive/" + std::to_string(r); }

// Which ranks stopped: their heartbeat counters do not move over ~1.5 s (a dead or hung process), or
// the store itself is gone (rank 0, its host, died).
std::string diagnose() {
  auto& s = S();
  if (!s.store) return "";
  try {
    auto read = [&]() {
      std::vector<std::string> v;
      for (int r = 0; r < s.world; ++r) {
        auto bytes = s.store->get(alive_key(r));
        v.emplace_back(bytes.begin(), bytes.end());
      }
      return v;
    };
    const auto a = read();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    const auto b = read();
    std::vector<int> stopped;
    for (int r = 0; r < s.world; ++r)
      if (r != s.rank && a[size_t(r)] == b[size_t(r)]) stopped.push_back(r);
    if (stopped.empty()) return " Every rank is still alive: a rank may have failed with its own error (see its output).";
    std::ostringstream m;
    m << " Rank" << (stopped.size() > 1 ? "s " : " ");
    for (size_t i = 0; i < stopped.size(); ++i) m << (i ? ", " : "") << stopped[i];
    m << (stopped.size() > 1 ? " have" : " has") << " stopped (the process died or hangs).";
    return m.str();
  } catch (const std::exception&) {
    return s.rank == 0 ? "" : " Rank 0 is unreachable (it hosts the rendezvous store): it died or its machine is gone.";
  }
}

[[noreturn]] void fail(const std::string& what, const std::string& cause) {
  auto& s = S();
  s.failed = true;
  throw Failure("jess: " + what + " failed on rank " + std::to_string(s.rank) + " of " + std::to_string(s.world) + ": " +
                first_line(cause) + "." + diagnose() + " (timeout " + std::to_string(int(s.timeout)) +
                " s; JESS_DIST_TIMEOUT sets it)");
}

template <typename F>
auto guarded(const std::string& what, F&& f) {
  try {
    return f();
  } catch (const Failure&) {
    throw;
  } catch (const std::exception& e) {
    fail(what, e.what());
  }
}

std::atomic<double> g_comm_seconds{0}, g_comm_bytes{0};

void add_atomic(std::atomic<double>& a, double v) {
  double old = a.load();
  while (!a.compare_exchange_weak(old, old + v)) {
  }
}

void run(const std::string& what, const c10::intrusive_ptr<c10d::Work>& w) {
  const auto t0 = std::chrono::steady_clock::now();
  guarded(what, [&] { return w->wait(); });
  add_atomic(g_comm_seconds, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

bool is_loopback(const std::string& addr) { return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1"; }

}  // namespace

LaunchEnv launch_env() {
  LaunchEnv e;
  const char* ws = std::getenv("WORLD_SIZE");
  if (!ws || !*ws) return e;
  e.present = true;
  e.world_size = env_int("WORLD_SIZE", 1, 1);
  e.rank = env_int("RANK", -1, 0);
  if (e.rank < 0) throw std::invalid_argument("WORLD_SIZE is set but RANK is not (torchrun's conventions: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)");
  if (e.rank >= e.world_size)
    throw std::invalid_argument("RANK=" + std::to_string(e.rank) + " is outside the world (WORLD_SIZE=" +
                                std::to_string(e.world_size) + "; ranks are 0.." + std::to_string(e.world_size - 1) + ")");
  e.local_rank = env_int("LOCAL_RANK", 0, 0);
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) e.master_addr = a;
  e.master_port = env_int("MASTER_PORT", 29500, 1);
  if (e.master_port > 65535) throw std::invalid_argument("MASTER_PORT=" + std::to_string(e.master_port) + " is not a TCP port");
  return e;
}

void init(const InitOptions& o) {
  auto& s = S();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.pg) return;
  const LaunchEnv env = launch_env();
  if (!env.present || env.world_size == 1) return;
  s.env = env;
  if (env.rank != 0) setenv("JESS_PROGRESS", "0", 1);  // progress bars on rank 0 only
  s.rank = env.rank;
  s.world = env.world_size;
  s.timeout = o.timeout_s;
  if (const char* t = std::getenv("JESS_DIST_TIMEOUT"); t && *t) {
    char* end = nullptr;
    const double v = std::strtod(t, &end);
    if (*end != '\0' || !(v > 0)) throw std::invalid_argument(std::string("JESS_DIST_TIMEOUT='") + t + "' is not a positive number of seconds");
    s.timeout = v;
  }
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  try {
    s.store = connect_store(env, env.rank == 0, s.timeout);
  } catch (const std::exception& e) {
    s.failed = true;
    const std::string m = e.what();
    if (env.rank == 0)
      throw Failure("jess: rank 0 cannot host the rendezvous store on " + where + " (" + first_line(m) +
                    "); is the port already in use by another run? Pick another with MASTER_PORT=...");
    throw Failure("jess: rank " + std::to_string(env.rank) + " cannot reach rank 0's rendezvous store on " + where +
                  " within " + std::to_string(int(s.timeout)) + " s (" + first_line(m) + "); is rank 0 running, and are MASTER_ADDR/MASTER_PORT the same everywhere?");
  }
  // Arrival: one claim per rank, the same world size everywhere.
  guarded("the rendezvous", [&] {
    if (s.store->add("jess/claim/" + std::to_string(s.rank), 1) > 1)
      throw std::runtime_error("two processes were started with RANK=" + std::to_string(s.rank));
    const std::string w = std::to_string(s.world);
    s.store->set("jess/world/" + std::to_string(s.rank), std::vector<uint8_t>(w.begin(), w.end()));
    s.store->set(alive_key(s.rank), std::vector<uint8_t>{'0'});
    for (int r = 0; r < s.world; ++r) {
      const std::string key = "jess/world/" + std::to_string(r);
      try {
        s.store->wait({key}, ms(s.timeout));
      } catch (const std::exception&) {
        throw std::runtime_error("rank " + std::to_string(r) + " never joined within " + std::to_string(int(s.timeout)) +
                                 " s: were all WORLD_SIZE=" + w + " processes started, with the same MASTER_ADDR and MASTER_PORT");
      }
      const auto v = s.store->get(key);
      const std::string theirs(v.begin(), v.end());
      if (theirs != w)
        throw std::runtime_error("rank " + std::to_string(r) + " was started with WORLD_SIZE=" + theirs + ", this rank with " + w);
    }
    return 0;
  });
  auto opts = c10d::ProcessGroupGloo::Options::create(ms(s.timeout));
  guarded("connecting the ranks", [&] {
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else if (is_loopback(env.master_addr))
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    opts->threads = 1;  // one communication thread: the machine's cores belong to the compute
    s.pg = c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("jess/pg", s.store),
                                                       s.rank, s.world, opts);
    return 0;
  });
  // The heartbeat, on its own connection to the store.
  auto beat_store = connect_store(env, false, s.timeout);
  s.stop = false;
  s.heartbeat = std::thread([&s, beat_store]() {
    int64_t n = 0;
    while (!s.stop) {
      try {
        const std::string v = std::to_string(++n);
        beat_store->set(alive_key(s.rank), std::vector<uint8_t>(v.begin(), v.end()));
      } catch (const std::exception&) {
        return;  // the store is gone: rank 0 ended or died
      }
      for (int i = 0; i < 5 && !s.stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
}

void shutdown(bool clean) {
  auto& s = S();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.pg) return;
  // Rank 0 hosts the store: a clean exit waits until every rank is done with it.
  if (clean && !s.failed) {
    try {
      std::vector<at::Tensor> t{at::zeros({1})};
      s.pg->allreduce(t)->wait();
    } catch (const std::exception&) {
    }
  }
  s.stop_heartbeat();
  s.pg.reset();
  s.store.reset();
  s.world = 1;
  s.rank = 0;
}

bool active() { return S().world > 1 && S().pg; }
int rank() { return S().rank; }
int world_size() { return S().world; }
bool is_main() { return S().rank == 0; }
double timeout_s() { return S().timeout; }

void all_reduce_sum_(at::Tensor& t) {
  if (!active()) return;
  TORCH_CHECK(t.is_contiguous(), "all_reduce_sum_ needs a contiguous tensor");
  std::vector<at::Tensor> v{t};
  add_atomic(g_comm_bytes, double(t.nbytes()));
  run("an all-reduce", S().pg->allreduce(v));
}

void broadcast_(at::Tensor& t, int root) {
  if (!active()) return;
  TORCH_CHECK(t.is_contiguous(), "broadcast_ needs a contiguous tensor");
  std::vector<at::Tensor> v{t};
  c10d::BroadcastOptions o;
  o.rootRank = root;
  add_atomic(g_comm_bytes, double(t.nbytes()));
  run("a broadcast", S().pg->broadcast(v, o));
}

void broadcast_coalesced_(const std::vector<at::Tensor>& tensors, int root) {
  if (!active() || tensors.empty()) return;
  std::vector<at::ScalarType> types;
  for (const auto& t : tensors)
    if (std::find(types.begin(), types.end(), t.scalar_type()) == types.end()) types.push_back(t.scalar_type());
  for (const auto type : types) {
    std::vector<at::Tensor> group, flat;
    for (const auto& t : tensors)
      if (t.scalar_type() == type) group.push_back(t), flat.push_back(t.reshape({-1}));
    at::Tensor buffer = at::cat(flat);
    broadcast_(buffer, root);
    int64_t offset = 0;
    for (const auto& t : group) {
      t.copy_(buffer.narrow(0, offset, t.numel()).view(t.sizes()));
      offset += t.numel();
    }
  }
}

at::Tensor all_gather(const at::Tensor& t) {
  if (!active()) return t;
  auto local = t.contiguous();
  std::vector<at::Tensor> in{local};
  std::vector<std::vector<at::Tensor>> out(1);
  for (int r = 0; r < world_size(); ++r) out[0].push_back(at::empty_like(local));
  add_atomic(g_comm_bytes, double(local.nbytes()));
  run("an all-gather", S().pg->allgather(out, in));
  return at::cat(out[0], 0);
}

void barrier() {
  if (!active()) return;
  at::Tensor t = at::zeros({1});
  all_reduce_sum_(t);
}

void check_same_everywhere(const std::string& what, const std::string& text) {
  if (!active()) return;
  auto& s = S();
  const std::string key = "jess/same/" + what;
  guarded("comparing the " + what + " across ranks", [&] {
    if (s.rank == 0) s.store->set(key, std::vector<uint8_t>(text.begin(), text.end()));
    s.store->wait({key}, ms(s.timeout));
    const auto v = s.store->get(key);
    const std::string theirs(v.begin(), v.end());
    // Every rank learns whether any rank differs (one all-reduce), so that all of them stop.
    at::Tensor differs = at::full({1}, theirs == text ? 0.0 : double(s.rank + 1) , at::kDouble);
    std::vector<at::Tensor> v1{differs};
    s.pg->allreduce(v1)->wait();
    if (differs.item<double>() == 0) return 0;
    std::string detail;
    if (theirs != text) {
      std::istringstream a(theirs), b(text);
      std::string la, lb;
      int line = 0;
      while (true) {
        const bool ga = bool(std::getline(a, la)), gb = bool(std::getline(b, lb));
        ++line;
        if (!ga && !gb) break;
        if (!ga || !gb || la != lb) {
          detail = " (line " + std::to_string(line) + ": rank 0 has '" + (ga ? la : "") + "', rank " + std::to_string(s.rank) +
                   " has '" + (gb ? lb : "") + "')";
          break;
        }
      }
      throw std::runtime_error("this rank's " + what + " differs from rank 0's" + detail);
    }
    throw std::runtime_error("another rank's " + what + " differs from rank 0's (its output names the difference)");
  });
}

void Pending::wait() {
  if (!work_) return;
  auto w = std::static_pointer_cast<c10::intrusive_ptr<c10d::Work>>(work_);
  run("a gradient all-reduce", *w);
  work_.reset();
}

Pending all_reduce_sum_async(at::Tensor& t) {
  if (!active()) return Pending();
  TORCH_CHECK(t.is_contiguous(), "all_reduce_sum_async needs a contiguous tensor");
  std::vector<at::Tensor> v{t};
  add_atomic(g_comm_bytes, double(t.nbytes()));
  auto w = guarded("an all-reduce", [&] { return S().pg->allreduce(v); });
  return Pending(std::make_shared<c10::intrusive_ptr<c10d::Work>>(std::move(w)));
}

namespace {
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Forward: the rows of every rank, in rank order. Backward: every rank holds the gradient of its own
// copy of the global loss with respect to all rows; their sum over ranks, restricted to this rank's rows,
// is the gradient of the sum of the ranks' losses with respect to this rank's inputs (FullGatherLayer).
struct GatherWithGrad : public torch::autograd::Function<GatherWithGrad> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& local) {
    ctx->saved_data["rows"] = local.size(0);
    return all_gather(local.detach());
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const int64_t rows = ctx->saved_data["rows"].toInt();
    auto g = grads[0].contiguous().clone();
    all_reduce_sum_(g);
    return {g.narrow(0, int64_t(rank()) * rows, rows)};
  }
};

// Forward: the sum over ranks. Backward: the sum over ranks of the incoming gradients (each rank holds
// only its own paths from the sum to the loss).
struct ReduceWithGrad : public torch::autograd::Function<ReduceWithGrad> {
  static at::Tensor forward(AutogradContext*, const at::Tensor& t) {
    auto s = t.detach().contiguous().clone();
    all_reduce_sum_(s);
    return s;
  }
  static variable_list backward(AutogradContext*, variable_list grads) {
    auto g = grads[0].contiguous().clone();
    all_reduce_sum_(g);
    return {g};
  }
};
}  // namespace

at::Tensor all_gather_with_grad(const at::Tensor& local) {
  if (!active()) return local;
  return GatherWithGrad::apply(local);
}

at::Tensor all_reduce_sum_with_grad(const at::Tensor& t) {
  if (!active()) return t;
  return ReduceWithGrad::apply(t);
}

CommStats comm_stats() { return {g_comm_seconds.load(), g_comm_bytes.load()}; }

Shard shard_of(int64_t global_batch) {
  const int64_t w = world_size();
  if (global_batch % w != 0)
    throw std::invalid_argument("the batch (" + std::to_string(global_batch) + ") must be a multiple of the number of processes (" +
                                std::to_string(w) + "): each rank takes an equal share of every global batch");
  const int64_t per = global_batch / w;
  return {int64_t(rank()) * per, int64_t(rank() + 1) * per};
}

at::Tensor local_rows(const at::Tensor& global) {
  if (!active()) return global;
  const Shard sh = shard_of(global.size(0));
  return global.narrow(0, sh.begin, sh.size());
}

}  // namespace jess::dist
