#pragma once
// `jess --nproc N COMMAND ...`: starts N copies of this jess on this machine with torchrun's
// environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1, MASTER_PORT: a
// free port unless set), splits the cores between them (JESS_THREADS, unless --threads or JESS_THREADS
// says otherwise; OpenMP waits passively, as processes that share cores must), keeps rank 0's output
// and the others' errors, and returns when all are done: the first failing rank's status, after
// stopping the others (they also stop by themselves: a collective with a dead peer fails at once, one
// with a hung peer after JESS_DIST_TIMEOUT). No torch.
#include <string>
#include <vector>

namespace jess::dist {

// Removes a `--nproc N` / `--nproc=N` from the global options (before the command name) of argv and
// returns N (0 when absent). Throws std::invalid_argument for a malformed N.
int take_nproc_option(std::vector<std::string>& argv);

// Runs argv (argv[0] is ignored: this executable re-runs itself) as `nproc` local ranks; the exit status.
int launch_local(int nproc, const std::vector<std::string>& argv);

}  // namespace jess::dist
