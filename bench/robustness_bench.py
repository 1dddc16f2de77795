#!/usr/bin/env python3
"""The robustness benchmark end to end for one model, timed (issue 17's target: every factor and level,
>= 20,000 images, under 2 minutes on the 2-core machine, rendering included).

Rendered objects: `jess render factors` for the held-out test objects (all factors at their default
levels: pose about x, y, z at 15-180 degrees, position, size, background, light colour and intensity) and
the canonical images of the probe objects, then `jess robustness eval` (features, linear probe on the
canonical images, per-level top-1, plots). Fashion-MNIST: `jess robustness eval` on the 2-D factors
(the images are made in memory). The model is trained first (not timed) unless --run names one.

Usage: bench/run.sh robustness [--objects 36] [--size 64] [--run RUN] [--threads T]
Prints one Markdown table of wall-clock seconds per stage.
"""
import argparse, os, subprocess, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JESS = os.path.join(ROOT, "build", "jess")


def timed(cmd, env):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=36, help="test objects per class (14 classes x 40 images each)")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--run", help="a jess train run of RGB images (default: train a small one first, not timed)")
    ap.add_argument("--fmnist-run", help="a jess train run on Fashion-MNIST canvases (default: train one, not timed)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    env = dict(os.environ, JESS_PROGRESS="0", JESS_THREADS=str(a.threads))
    tmp = tempfile.mkdtemp(prefix="jess_robust_bench_")
    run = a.run
    if not run:
        data, run = os.path.join(tmp, "train_data"), os.path.join(tmp, "run")
        subprocess.run([JESS, "render", "dataset", "--out", data, "objects_per_class=20", "views_per_object=10",
                        f"image_size={a.size}", "layout=packed"], check=True, stdout=subprocess.DEVNULL, env=env)
        subprocess.run([JESS, "train", "--out", run, f"data={data}", "method=supervised", "width=16", "batch=128",
                        "train.epochs=3", "n_bank=500", "n_monitor=500"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env=env)
    frun = a.fmnist_run
    if not frun:
        frun = os.path.join(tmp, "frun")
        subprocess.run([JESS, "train", "--out", frun, "method=supervised", "width=16", "n_train=10000", "train.epochs=1",
                        "variation.canvas=40", "n_bank=500", "n_monitor=500"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env=env)
    test, probe = os.path.join(tmp, "test.h5"), os.path.join(tmp, "probe.h5")
    t_render = timed([JESS, "render", "factors", "--out", test, f"objects_per_class={a.objects}", f"image_size={a.size}"], env)
    t_probe = timed([JESS, "render", "factors", "--out", probe, "objects_per_class=20", "first_object=0", f"image_size={a.size}",
                     "pose=", "position=", "size=", "background=", "light=", "intensity="], env)
    t_eval = timed([JESS, "robustness", "eval", run, "--data", test, "--probe", probe, "--plots", os.path.join(tmp, "plots"),
                    "--json", os.path.join(tmp, "r.json")], env)
    import h5py, json
    with h5py.File(test, "r") as f:
        n_test = f["images"].shape[0]
    with h5py.File(probe, "r") as f:
        n_probe = f["images"].shape[0]
    groups = len(json.load(open(os.path.join(tmp, "r.json")))[0]["rows"])
    t_fm = timed([JESS, "robustness", "eval", frun, "--n-test", "1000", "--n-probe", "10000", "--json", os.path.join(tmp, "f.json")], env)
    fm_rows = json.load(open(os.path.join(tmp, "f.json")))[0]["rows"]
    n_fm = sum(r["n"] for r in fm_rows)
    core = os.environ.get("OPENBLAS_CORETYPE", "(unset)")
    print(f"Robustness benchmark for one model ({a.threads} threads, OPENBLAS_CORETYPE={core}); models: {run}, {frun}\n")
    print("| set | stage | images | seconds |\n|---|---|---|---|")
    print(f"| rendered ({a.size}x{a.size}, 14 classes) | render the test factor sets | {n_test:,} | {t_render:.1f} |")
    print(f"| | render the probe's canonical images | {n_probe:,} | {t_probe:.1f} |")
    print(f"| | eval: features, probe, {groups} groups, plots | {n_test + n_probe:,} | {t_eval:.1f} |")
    print(f"| | **total** | {n_test + n_probe:,} | **{t_render + t_probe + t_eval:.1f}** |")
    print(f"| Fashion-MNIST (40x40 canvases) | eval: factors, features, probe ({len(fm_rows)} groups) | {n_fm + 10000:,} | {t_fm:.1f} |")


if __name__ == "__main__":
    main()
