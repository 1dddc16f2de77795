"""What the robustness experiment scripts share: 95 % intervals over seeds (Student t) and loading the
`robustness.json` of every seed of a run folder."""
import json
import math
import statistics as st

T95 = {2: 12.71, 3: 4.30, 4: 3.18, 5: 2.78}  # two-sided 95 % t quantiles for n - 1 degrees of freedom


def half(v):
    """Half-width of the 95 % interval of the mean of v (0 for a single value)."""
    return T95.get(len(v), 2.0) * st.stdev(v) / math.sqrt(len(v)) if len(v) > 1 else 0.0


def ci(v):
    """'mean ± half-width', the value alone for one seed, 'n/a' for none."""
    if len(v) < 2:
        return f"{v[0]:.1f}" if v else "n/a"
    return f"{st.mean(v):.1f} ± {half(v):.1f}"


def load(run_folder):
    """The first report of every seed*/robustness.json under run_folder (a pathlib.Path), seed order."""
    return [json.load(open(x))[0] for x in sorted(run_folder.glob("seed*/robustness.json"))]
