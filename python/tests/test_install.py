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
