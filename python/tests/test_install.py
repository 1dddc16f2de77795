"""The package installs with CMake (the documented route) and imports from the installed copy alone,
costing little next to torch's own import."""
import os
import subprocess
import sys

import pytest


def test_cmake_install_into_a_prefix_imports(tmp_path):
    build = os.environ.get("JESS_BUILD_DIR")
    if not build:
        pytest.skip("JESS_BUILD_DIR is not set (ctest sets it)")
    r = subprocess.run(["cmake", "--install", build, "--component", "python"], capture_output=True, text=True,
                       env=dict(os.environ, DESTDIR=str(tmp_path)))
    assert r.returncode == 0, r.stderr
    sites = [os.path.join(d, n) for d, dirs, _ in os.walk(tmp_path) for n in dirs if n == "jess"]
    assert len(sites) == 1, sites
    code = ("import time; t = time.time(); import torch; t_torch = time.time() - t; t = time.time(); import jess; "
            "t_jess = time.time() - t; assert jess.__file__.startswith(%r), jess.__file__; "
            "print(t_torch, t_jess, jess.eval.numerical_rank(torch.eye(3)))" % str(tmp_path))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.path.dirname(sites[0])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr
    t_torch, t_jess, rank = out.stdout.split()
    assert rank == "3"
    assert float(t_jess) < float(t_torch), (t_jess, t_torch)  # importing jess costs less than importing torch


# A fresh interpreter reports how a 40 MiB malloc was served: glibc's default mmap threshold tops out at
# 32 MiB (so the block is mmapped and counted in mallinfo2().hblkhd), jess's start-up raises it to 64 MiB
# (served from the heap), and JESS_MALLOC_TUNING=0 keeps the default.
_MMAPPED_40_MIB = """
import ctypes, sys
if {import_jess}:
    import jess
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
before = libc.mallinfo2().hblkhd
p = libc.malloc(40 << 20)
after = libc.mallinfo2().hblkhd
libc.free(ctypes.c_void_p(p))
print(after - before >= 40 << 20)
"""


def _mmapped_40_mib(import_jess, **env):
    e = dict(os.environ, **env)
    out = subprocess.run([sys.executable, "-c", _MMAPPED_40_MIB.format(import_jess=import_jess)],
                         capture_output=True, text=True, env=e)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip() == "True"


def test_import_raises_glibc_thresholds_like_the_cli():
    assert _mmapped_40_mib(False)  # glibc's default: the control, so the probe itself is sound
    assert not _mmapped_40_mib(True)
    assert _mmapped_40_mib(True, JESS_MALLOC_TUNING="0")


def _threads_after_import(**env):
    e = {k: v for k, v in os.environ.items() if k not in ("JESS_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    e.update(env)
    out = subprocess.run([sys.executable, "-c", "import jess, torch; print(torch.get_num_threads())"],
                         capture_output=True, text=True, env=e)
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


def test_import_sets_threads_from_jess_threads_and_respects_omp_num_threads():
    assert _threads_after_import(JESS_THREADS="3") == 3
    assert _threads_after_import(OMP_NUM_THREADS="1") == 1
    # Nothing set: at least the usable CPUs (libtorch alone may report 1 on a VM).
    assert _threads_after_import() >= min(len(os.sched_getaffinity(0)), 2)
