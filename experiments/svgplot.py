"""Dependency-free SVG plots for the experiment scripts (Debian's python3 here has no matplotlib):
line plots with 95 % interval bars, and grouped bar charts. Each figure carries its title, axis labels
and legend, so that it reads without the text around it."""
import html

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]
W, H, L, R, T, B = 760, 400, 70, 250, 50, 60  # size and margins (legend on the right)


def _frame(title, xlabel, ylabel, ymax):
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{(L + W - R) / 2}" y="24" text-anchor="middle" font-size="14">{html.escape(title)}</text>',
           f'<text x="{(L + W - R) / 2}" y="{H - 14}" text-anchor="middle">{html.escape(xlabel)}</text>',
           f'<text transform="translate(18,{(T + H - B) / 2}) rotate(-90)" text-anchor="middle">{html.escape(ylabel)}</text>']
    for i in range(6):
        v = ymax * i / 5
        y = _y(v, ymax)
        out.append(f'<line x1="{L}" x2="{W - R}" y1="{y}" y2="{y}" stroke="#ddd"/>')
        out.append(f'<text x="{L - 6}" y="{y + 4}" text-anchor="end">{v:g}</text>')
    out.append(f'<line x1="{L}" x2="{L}" y1="{T}" y2="{H - B}" stroke="black"/>')
    out.append(f'<line x1="{L}" x2="{W - R}" y1="{H - B}" y2="{H - B}" stroke="black"/>')
    return out


def _y(v, ymax):
    return H - B - (H - B - T) * v / ymax


def _legend(out, names):
    for i, name in enumerate(names):
        y = T + 10 + 20 * i
        c = COLOURS[i % len(COLOURS)]
        out.append(f'<rect x="{W - R + 14}" y="{y - 9}" width="14" height="10" fill="{c}"/>')
        out.append(f'<text x="{W - R + 34}" y="{y}">{html.escape(name)}</text>')


def line_plot(path, title, xlabel, ylabel, series, xticks, ymax=100, hline=None):
    """series: {name: [(tick_index, mean, half_width), ...]}; xticks: labels, evenly spaced."""
    out = _frame(title, xlabel, ylabel, ymax)
    n = max(1, len(xticks) - 1)
    xs = [L + 20 + (W - R - L - 40) * i / n for i in range(len(xticks))]
    for x, label in zip(xs, xticks):
        out.append(f'<text x="{x}" y="{H - B + 18}" text-anchor="middle">{html.escape(str(label))}</text>')
    if hline is not None:
        value, label = hline
        out.append(f'<line x1="{L}" x2="{W - R}" y1="{_y(value, ymax)}" y2="{_y(value, ymax)}" stroke="#888" stroke-dasharray="4 3"/>')
        out.append(f'<text x="{W - R - 4}" y="{_y(value, ymax) - 4}" text-anchor="end" fill="#666">{html.escape(label)}</text>')
    for k, (name, points) in enumerate(series.items()):
        c = COLOURS[k % len(COLOURS)]
        pts = [(xs[i], _y(m, ymax), _y(m - h, ymax), _y(m + h, ymax)) for i, m, h in points]
        if len(pts) > 1:
            out.append('<polyline fill="none" stroke-width="2" stroke="%s" points="%s"/>' % (c, " ".join(f"{x},{y}" for x, y, _, _ in pts)))
        for x, y, lo, hi in pts:
            out.append(f'<line x1="{x}" x2="{x}" y1="{lo}" y2="{hi}" stroke="{c}"/>')
            out.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{c}"/>')
    _legend(out, list(series))
    out.append("</svg>")
    open(path, "w").write("\n".join(out) + "\n")


def bar_plot(path, title, ylabel, groups, series, ymax=100):
    """groups: x labels; series: {name: [(mean, half_width) per group]} drawn side by side."""
    out = _frame(title, "", ylabel, ymax)
    gw = (W - R - L) / len(groups)
    bw = gw * 0.8 / max(1, len(series))
    size = 12 if len(groups) <= 6 else 10
    for g, label in enumerate(groups):
        out.append(f'<text x="{L + gw * (g + 0.5)}" y="{H - B + 18}" text-anchor="middle" font-size="{size}">{html.escape(label)}</text>')
        for k, values in enumerate(series.values()):
            m, h = values[g]
            x = L + gw * g + gw * 0.1 + bw * k
            c = COLOURS[k % len(COLOURS)]
            out.append(f'<rect x="{x}" y="{_y(m, ymax)}" width="{bw - 2}" height="{_y(0, ymax) - _y(m, ymax)}" fill="{c}"/>')
            out.append(f'<line x1="{x + bw / 2 - 1}" x2="{x + bw / 2 - 1}" y1="{_y(m - h, ymax)}" y2="{_y(m + h, ymax)}" stroke="black"/>')
    _legend(out, list(series))
    out.append("</svg>")
    open(path, "w").write("\n".join(out) + "\n")
