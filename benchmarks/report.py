"""Presenting a run: progress bar (stderr), terminal and Markdown tables, JSON files, PNG plot."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

SCHEMA = "srcgrad-benchmarks/1"
NO_PEERS = "skipped (--no-peers)"


# ------------------------------------------------------------------ progress bar


class Progress:
    """A one-line progress bar on stderr (redrawn in place on a terminal, plain lines otherwise)."""

    def __init__(self, total: int, width: int = 24, stream=sys.stderr):
        self.total, self.width, self.stream = total, width, stream
        self.done = 0
        self.name = ""
        self.t0 = time.perf_counter()
        self.tty = stream.isatty()
        self.last = ""

    def _elapsed(self) -> str:
        s = int(time.perf_counter() - self.t0)
        return f"{s // 60:d}:{s % 60:02d}"

    def _draw(self, detail: str):
        filled = int(self.width * self.done / max(self.total, 1))
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"[{bar}] {self.done}/{self.total} {self._elapsed()} {self.name}: {detail}"
        if self.tty:
            cols = max(40, os.get_terminal_size(self.stream.fileno()).columns - 1)
            self.stream.write("\r" + line[:cols].ljust(min(cols, max(len(self.last), len(line)))))
            self.last = line[:cols]
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def start(self, name: str):
        self.name = name
        self._draw("starting")

    def update(self, detail: str):
        if self.tty:  # plain logs get only start/finish lines
            self._draw(detail)

    def finish(self, record: dict):
        self.done += 1
        wall = record.get("wall_s")
        self._draw(record.get("status", "?") + (f" ({wall:.1f} s)" if wall else ""))

    def close(self):
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


# ------------------------------------------------------------------ the run's record


def machine() -> dict:
    """What the numbers were measured on."""
    from benchmarks import peers

    cpu = platform.processor() or ""
    mem_gb = None
    try:
        cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                    if ln.startswith("model name")), cpu)
        kb = next(int(ln.split()[1]) for ln in open("/proc/meminfo") if ln.startswith("MemTotal"))
        mem_gb = round(kb / 2**20, 1)
    except (OSError, StopIteration, ValueError):
        pass
    tools = ("numpy", "scipy", "numba", "srcgrad", "jax", "torch", "autograd", "tangent")
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu": cpu,
            "cores": os.cpu_count(), "memory_gb": mem_gb,
            "load_average": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
            "versions": {t: peers.version(t) for t in tools}}


def assemble(records: list[dict], settings, argv, duration_s: float, complete: bool = True) -> dict:
    """The whole run as one JSON-ready dict (schema in docs/benchmarks.md)."""
    return {"schema": SCHEMA, "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": ["python", "-m", "benchmarks", *argv], "mode": "quick" if settings.quick else "full",
            "complete": complete, "settings": asdict(settings), "machine": machine(),
            "duration_s": round(duration_s, 2), "workloads": records}


def write_partial(result: dict, out_dir: Path) -> Path:
    """After each workload: <out>/in-progress.json, so a long run that is stopped keeps its numbers."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "in-progress.json"
    path.write_text(json.dumps(result, indent=1, default=float))
    return path


def write_json(result: dict, out_dir: Path) -> Path:
    """Write <out>/<timestamp>.json and <out>/latest.json; return the timestamped path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"{stamp}-{result['mode']}.json"
    text = json.dumps(result, indent=1, default=float)
    path.write_text(text)
    (out_dir / "latest.json").write_text(text)
    (out_dir / "in-progress.json").unlink(missing_ok=True)
    return path


# ------------------------------------------------------------------ tables


def fmt_time(s: float | None) -> str:
    """Seconds in the unit that keeps three significant digits."""
    if s is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def _ratio(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.3g}" if x < 1000 else f"{x:.0f}"


def _spread(t: dict) -> str:
    return f"±{50 * (t['q3_s'] - t['q1_s']) / t['median_s']:.0f}%" if t["median_s"] else "—"


def _check(row: dict) -> str:
    c = row.get("check") or {}
    if c.get("rel_err") is None:
        return "—" if not c else "no reference"
    return f"{c['rel_err']:.0e}" if c["rel_err"] else "0"


COLUMNS = ("tool", "median", "spread", "÷obj", "÷own obj", "×hand", "srcgrad÷", "1st call", "check")


def _cells(row: dict) -> list[str]:
    """One table row: timings and ratios when the tool ran, else its status across the row."""
    t, r = row.get("time"), row.get("ratios", {})
    first = fmt_time(row.get("first_call_s"))
    comp = row.get("compile") or {}
    if comp.get("warm_s") is not None:
        first += f" (warm {fmt_time(comp['warm_s'])})"
    if not t:
        status, check = row["status"], row.get("check") or {}
        if status == "WRONG":
            err = check.get("rel_err")
            status += (f" (rel err {err:.1e} > {check['tol']:.0e} vs {check['reference']})" if err is not None
                       else " (shape mismatch or non-finite values)")
        return [row["label"], status if len(status) <= 110 else status[:107] + "..."]
    return [row["label"], fmt_time(t["median_s"]), _spread(t), _ratio(r.get("objective")),
            _ratio(r.get("own_objective")), _ratio(r.get("hand")), _ratio(r.get("srcgrad_vs_this")),
            first, _check(row)]


def _header(rec: dict) -> str:
    wall, share = rec.get("wall_s"), rec.get("cpu_share")
    head = f"{rec['name']} — {rec.get('description', '')}"
    if wall:
        noisy = " — NOISY: other load took the core" if share is not None and share < 0.8 else ""
        head += f"  [{wall:.1f} s" + (f", cpu share {share:.0%}{noisy}]" if share is not None else "]")
    return head + ("" if rec["status"] == "ok" else f"  {rec['status']}")


def table(result: dict) -> str:
    """The terminal table: one block per workload, one line per tool."""
    s, m = result["settings"], result["machine"]
    lines = [f"srcgrad benchmarks — {result['mode']} mode, {s['threads']} thread(s), up to {s['rounds']} "
             f"rounds — {m['cores']} cores {m['cpu']} — {result['duration_s']:.0f} s",
             "times are medians per call; spread = half the interquartile range; ratios use medians "
             "of this run; ×hand = time ÷ hand adjoint; srcgrad÷ = srcgrad time ÷ this tool's"]
    widths = (30, 10, 6, 7, 9, 7, 9, 24, 7)
    for rec in result["workloads"]:
        lines += ["", _header(rec)]
        if not rec.get("tools"):
            continue
        lines.append("  " + " ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)).rstrip())
        rows = [row for row in rec["tools"] if row["status"] != NO_PEERS]
        if len(rows) < len(rec["tools"]):
            lines.append(f"  {'peers':<{widths[0]}} {NO_PEERS}")
        for row in rows:
            cells = _cells(row)
            if len(cells) == 2:
                lines.append(f"  {cells[0]:<{widths[0]}} {cells[1]}")
            else:
                lines.append("  " + " ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
    return "\n".join(lines)


def markdown(result: dict) -> str:
    """The same table in Markdown (for docs/benchmarks.md)."""
    out = ["| workload | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for rec in result["workloads"]:
        if not rec.get("tools"):
            out.append(f"| {rec['name']} | {rec['status']} |" + " |" * (len(COLUMNS) - 1))
        for row in rec.get("tools", []):
            if row["status"] == NO_PEERS:
                continue
            cells = _cells(row)
            cells += [""] * (len(COLUMNS) - len(cells))
            out.append(f"| {rec['name']} | " + " | ".join(cells) + " |")
    return "\n".join(out)


# ------------------------------------------------------------------ plot


def plot(result: dict, path: Path) -> str:
    """Gradient time ÷ hand adjoint per workload and tool (log scale); returns a one-line message."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "plot: matplotlib is not installed, skipped (pip install matplotlib)"
    recs = [r for r in result["workloads"] if any(t.get("time") for t in r.get("tools", []))]
    if not recs:
        return "plot: nothing was timed, skipped"
    labels = sorted({t["label"] for r in recs for t in r["tools"]
                     if t.get("time") and t["kind"] == "gradient" and "hand" in t["ratios"]})
    fig, ax = plt.subplots(figsize=(max(7, 1.1 * len(recs)), 5))
    markers = "os^Dv<>pPX*h"
    tools = sorted({label.split(" ")[0] for label in labels})
    colors = {t: f"C{k % 10}" for k, t in enumerate(tools)}
    for i, label in enumerate(labels):
        xs, ys = [], []
        for j, rec in enumerate(recs):
            row = next((t for t in rec["tools"] if t["label"] == label and t.get("time")), None)
            if row and "hand" in row["ratios"]:
                xs.append(j + (i - len(labels) / 2) * 0.03)
                ys.append(row["ratios"]["hand"])
        ax.scatter(xs, ys, label=label, marker=markers[i % len(markers)], color=colors[label.split(" ")[0]],
                   s=60 if label == "srcgrad" else 30, zorder=3 if label == "srcgrad" else 2)
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xlim(-0.6, len(recs) - 0.4)
    ax.set_yscale("log")
    ax.set_xticks(range(len(recs)), [r["name"] for r in recs], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("gradient time ÷ hand adjoint (lower is better)")
    ax.set_title(f"srcgrad benchmarks ({result['mode']}, {result['settings']['threads']} thread(s), "
                 f"{result['created'][:10]})", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(True, which="both", axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"plot: {path}"
