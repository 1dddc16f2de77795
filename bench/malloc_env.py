"""The glibc malloc thresholds jess sets for itself at start-up (tune_allocator in src/jess/core/runtime.cpp),
as a GLIBC_TUNABLES value for the Python peers, so both sides of a benchmark run with the same allocator:
mmap threshold 64 MiB; trim threshold an eighth of the physical memory, at least 256 MiB and at most
2 GiB - 1 (mallopt's int). `python3 bench/malloc_env.py` prints it (bench/run.sh exports it)."""
import os


def glibc_tunables():
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    trim = min(max(256 << 20, physical // 8), 2**31 - 1)
    return f"glibc.malloc.mmap_threshold=67108864:glibc.malloc.trim_threshold={trim}"


if __name__ == "__main__":
    print(glibc_tunables())
