#!/usr/bin/env python3
"""Rendering throughput: `jess render dataset` (OpenGL on Mesa's llvmpipe) end to end — scene set-up,
shadow pass, render, read-back, writing — against the reference method, Blender's Cycles path tracer
(3DIEBench's generator uses BlenderProc with 100 samples), on the same scene. Prints one Markdown table.

  bench/run.sh render [--quick] [--blender-views N] [--no-blender]

Rows: images/s at 128^2 and 256^2 (packed layout, and both layouts with JPEG folders), the 10-class x
200-object x 50-view set at 64^2 (the 5-minute target; skipped with --quick), peak resident memory of
two dataset sizes (streaming writes keep it flat), and Blender seconds per image for a handful of views.
"""
import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JESS = os.path.join(ROOT, "build", "jess")


def run_timed(cmd, env=None):
    """Runs cmd under /usr/bin/time -v; returns (seconds, peak RSS MiB, stdout)."""
    start = time.time()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env)
    seconds = time.time() - start
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return seconds, (int(rss.group(1)) / 1024 if rss else float("nan")), p.stdout


def jess_dataset(tmp, name, size, objects, views, classes=None, layout="packed", extra=()):
    out = os.path.join(tmp, name)
    cmd = [JESS, "render", "dataset", "--out", out, f"image_size={size}", f"objects_per_class={objects}",
           f"views_per_object={views}", f"layout={layout}"] + list(extra)
    if classes:
        cmd.append("classes=" + classes)
    seconds, rss, stdout = run_timed(cmd)
    n = int(re.search(r"= (\d+) images", stdout).group(1))
    # jess's own timing of the dataset work (set-up, render, read-back, writing), without the process
    # start (loading libtorch, which the CLI links, is most of its ~0.6 s).
    inner = float(re.search(r"images of \d+\^2 in [^(]*\((\d+) images/s", stdout).group(1))
    shutil.rmtree(out, ignore_errors=True)
    return {"images": n, "seconds": seconds, "rate": n / seconds, "rss": rss, "inner": inner}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="skip the 100,000-image 64^2 set")
    ap.add_argument("--blender-views", type=int, default=3, help="views Blender renders per size")
    ap.add_argument("--blender-samples", type=int, default=100, help="Cycles samples (3DIEBench: 100)")
    ap.add_argument("--no-blender", action="store_true")
    args = ap.parse_args()
    ten = "airplane,bench,bottle,car,chair,lamp,mug,sofa,table,vase"
    rows = []
    with tempfile.TemporaryDirectory(prefix="jess_render_bench_") as tmp:
        gl = subprocess.run([JESS, "render", "dataset", "--help"], capture_output=True, text=True).returncode
        assert gl == 0
        for size, objects in ((128, 10), (256, 4)):
            r = jess_dataset(tmp, f"p{size}", size, objects, 50, ten)
            rows.append((f"jess, packed (dataset.h5), {size}^2", r))
            r = jess_dataset(tmp, f"b{size}", size, objects, 50, ten, layout="both")
            rows.append((f"jess, packed + 3DIEBench folder (JPEG), {size}^2", r))
            r = jess_dataset(tmp, f"a{size}", size, objects, 50, ten, extra=("samples=4",))
            rows.append((f"jess, packed, {size}^2, 4x multisampling", r))
        small = jess_dataset(tmp, "m1", 64, 20, 50, ten)
        rows.append(("jess, packed, 64^2, 10 x 20 x 50", small))
        if not args.quick:
            big = jess_dataset(tmp, "m2", 64, 200, 50, ten)
            rows.append(("jess, packed, 64^2, 10 x 200 x 50 (target < 300 s)", big))
        blender = shutil.which("blender")
        if blender and not args.no_blender:
            mesh = os.path.join(tmp, "chair.obj")
            subprocess.run([JESS, "render", "export", "--class", "chair", "--out", mesh], check=True, capture_output=True)
            for size in (128, 256):
                p = subprocess.run([blender, "-b", "--factory-startup", "-P", os.path.join(ROOT, "bench", "render_blender.py"),
                                    "--", mesh, str(size), str(args.blender_views), str(args.blender_samples), "2",
                                    os.path.join(tmp, f"blender{size}")], capture_output=True, text=True)
                m = re.search(r"JESS_BLENDER_RESULT (\{.*\})", p.stdout)
                if not m:
                    sys.stderr.write(p.stdout[-3000:] + p.stderr[-3000:])
                    rows.append((f"Blender Cycles, {args.blender_samples} samples, {size}^2", None))
                    continue
                res = json.loads(m.group(1))
                per = sorted(res["seconds_per_image"])[len(res["seconds_per_image"]) // 2]
                rows.append((f"Blender {subprocess.run([blender, '--version'], capture_output=True, text=True).stdout.split()[1]}"
                             f" Cycles CPU, {args.blender_samples} samples, {size}^2 (median of {res['views']})",
                             {"images": res["views"], "seconds": sum(res["seconds_per_image"]), "rate": 1 / per,
                              "rss": float("nan"), "inner": 1 / per}))
        else:
            rows.append(("Blender Cycles (not installed: apt install blender)", None))

    print(f"Rendering throughput ({platform.node()}, {os.cpu_count()} cores, LP_NUM_THREADS="
          f"{os.environ.get('LP_NUM_THREADS', 'unset')}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')})\n")
    print("| renderer | images | seconds (whole command) | images/s (whole command) | images/s (dataset work) | peak RSS (MiB) |\n"
          "|---|---|---|---|---|---|")
    for name, r in rows:
        if r is None:
            print(f"| {name} | - | - | - | - | - |")
        else:
            print(f"| {name} | {r['images']} | {r['seconds']:.1f} | {r['rate']:.1f} | {r['inner']:.0f} | {r['rss']:.0f} |")
    if not args.no_blender and any(r and "Blender" in n for n, r in rows):
        jess128 = rows[0][1]["rate"]  # the default (no multisampling) at 128^2
        b128 = next(r for n, r in rows if r and "Blender" in n and "128" in n)["rate"]
        print(f"\njess / Blender at 128^2: {jess128 / b128:.0f}x more images per second")


if __name__ == "__main__":
    main()
