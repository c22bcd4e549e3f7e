"""How a workload is measured: checks, timing, and one subprocess per workload.

Method (see docs/benchmarks.md):
1. Import every tool the workload uses (import time recorded apart), compile a
   throw-away numba function so no tool pays numba's one-off LLVM start-up.
2. Per tool: prepare (trace/transform/compile) and make the first call, timed
   together as the first-call time.
3. Check every gradient against the reference (the hand adjoint) before any
   timing; a mismatch marks the tool WRONG and drops it from timing.
4. Warm up, calibrate a batch size so one batch lasts at least `min_batch_s`,
   then time batches in interleaved rounds (round-robin, start rotated each
   round) so machine noise hits all tools alike. Report median, quartiles,
   min and max of the per-call times.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time
import timeit
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PEER_TOOLS = ("jax", "torch", "autograd", "tangent")


@dataclass
class Settings:
    """Knobs of one run; `quick` selects the small embedded sizes."""

    quick: bool = False
    rounds: int = 15
    threads: int = 1
    peers: bool = True
    min_batch_s: float = 0.05
    warmup_s: float = 0.2
    max_entry_s: float = 5.0  # timing budget per tool and workload; fewer rounds past it...
    min_rounds: int = 3  # ...but never fewer than this
    timeout_s: float = 1500.0  # per workload subprocess

    @classmethod
    def for_mode(cls, quick: bool, **overrides) -> Settings:
        base = cls(quick=True, rounds=5, min_batch_s=0.01, warmup_s=0.05, max_entry_s=1.0,
                   min_rounds=2, timeout_s=600.0) if quick else cls()
        return cls(**(asdict(base) | {k: v for k, v in overrides.items() if v is not None}))


def pinned_env(threads: int, base: dict | None = None) -> dict:
    """Environment for a workload subprocess: every library pinned to `threads` threads."""
    env = dict(os.environ if base is None else base)
    n = str(threads)
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "BENCH_THREADS"):
        env[var] = n
    eigen = "false" if threads == 1 else "true"
    env["XLA_FLAGS"] = (f"{env.get('XLA_FLAGS', '')} --xla_cpu_multi_thread_eigen={eigen} "
                        f"intra_op_parallelism_threads={threads}").strip()
    env.setdefault("JAX_PLATFORMS", "cpu")
    env["JAX_ENABLE_X64"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def rel_err(got: np.ndarray, ref: np.ndarray) -> float:
    """Max-norm relative error |got − ref|∞ / max(|ref|∞, 1e-300); inf on shape mismatch or NaN."""
    if got.shape != ref.shape or not np.all(np.isfinite(got)):
        return math.inf
    return float(np.max(np.abs(got - ref), initial=0.0) / max(np.max(np.abs(ref), initial=0.0), 1e-300))


def stats(samples: list[float]) -> dict:
    """Median, quartiles and range of per-call times (seconds)."""
    q1, med, q3 = np.percentile(samples, [25, 50, 75])
    return {"median_s": float(med), "q1_s": float(q1), "q3_s": float(q3),
            "min_s": float(min(samples)), "max_s": float(max(samples)), "rounds": len(samples),
            "samples_s": [float(s) for s in samples]}


class Entry:
    """One tool row while a workload runs: its spec, prepared call and record."""

    def __init__(self, spec):
        self.spec = spec
        self.prepared = None
        self.timer = None
        self.number = 1
        self.check_s = math.inf  # duration of the (warm) call made by the check
        self.max_rounds = 0
        self.samples: list[float] = []
        self.row = {"tool": spec.tool, "variant": spec.variant, "label": spec.label, "kind": spec.kind,
                    "status": "ok", "check": None, "time": None, "setup_s": None,
                    "first_call_s": None, "compile": None, "ratios": {}, "info": {}}

    @property
    def ok(self) -> bool:
        return self.row["status"] == "ok"

    def fail(self, status: str):
        self.row["status"] = status

    def make_timer(self):
        p = self.prepared
        names = [f"a{i}" for i in range(len(p.args))]
        ns = dict(zip(names, p.args)) | {"fn": p.fn, "sync": p.sync}
        call = f"fn({', '.join(names)})"
        self.timer = timeit.Timer(f"sync({call})" if p.sync is not None else call, globals=ns)


def _numba_warmup():
    import numba

    numba.njit(lambda a: a + 1.0)(1.0)


def _load_tools(specs, settings: Settings, progress) -> dict:
    """Import each distinct tool once (so import time is not counted as compile time)."""
    from benchmarks import peers

    imports = {}
    for tool in dict.fromkeys(s.tool for s in specs):
        if tool not in ("srcgrad", *PEER_TOOLS) or (tool in PEER_TOOLS and not settings.peers):
            continue
        progress(f"import {tool}")
        start = time.perf_counter()
        try:
            peers.load(tool)
            imports[tool] = round(time.perf_counter() - start, 4)
        except peers.Unavailable:
            pass
    return imports


def _prepare(entry: Entry, inputs: tuple, settings: Settings, progress):
    from benchmarks import peers

    spec = entry.spec
    if spec.tool in PEER_TOOLS and not settings.peers:
        return entry.fail("skipped (--no-peers)")
    progress(f"{spec.label}: prepare + first call")
    start = time.perf_counter()
    try:
        entry.prepared = spec.prepare(inputs)
        mid = time.perf_counter()
        entry.prepared.call()
        end = time.perf_counter()
    except peers.Unavailable as exc:
        return entry.fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - a tool's failure is its row's status
        return entry.fail(f"error: {_first_line(exc)}")
    entry.row["setup_s"] = mid - start
    entry.row["first_call_s"] = end - start
    entry.row["info"].update(entry.prepared.info)


def _check(entries: list[Entry]):
    """Compare every gradient with the reference (first working hand row), every objective with
    the numba objective. Rows that disagree become WRONG and are not timed."""
    for kind, ref_tools in (("gradient", ("hand", "jax", "fd")), ("objective", ("objective",))):
        rows = [e for e in entries if e.spec.kind == kind and e.ok]
        values = {}
        for e in rows:
            try:
                start = time.perf_counter()
                values[id(e)] = (e.prepared.gradient() if kind == "gradient" else
                                 np.atleast_1d(np.asarray(e.prepared.to_flat(e.prepared.call()))))
                if e.prepared.check is None:  # the check ran the timed call itself
                    e.check_s = time.perf_counter() - start
            except Exception as exc:  # noqa: BLE001
                e.fail(f"error: {_first_line(exc)}")
        ref = next((e for t in ref_tools for e in rows if e.spec.tool == t and e.ok), None)
        for e in rows:
            if not e.ok:
                continue
            if ref is None:
                e.row["check"] = {"rel_err": None, "tol": e.spec.tol, "reference": None}
                continue
            err = rel_err(values[id(e)], values[id(ref)])
            e.row["check"] = {"rel_err": err if math.isfinite(err) else None, "tol": e.spec.tol,
                              "reference": ref.spec.label}
            if not err <= e.spec.tol:
                e.fail("WRONG")


def _calibrate(entry: Entry, settings: Settings):
    """Warm up; choose calls per batch so a batch lasts >= min_batch_s; cap the rounds so the
    row's timing fits in max_entry_s (never below min_rounds). A check call that already
    lasted the warm-up time counts as the warm-up (slow eager tools)."""
    entry.make_timer()
    per_call = entry.check_s
    spent = 0.0 if entry.check_s < settings.warmup_s else entry.check_s
    calls = 0 if entry.check_s < settings.warmup_s else 1
    while spent < settings.warmup_s or calls < 1:
        t = entry.timer.timeit(1)
        per_call, spent, calls = min(per_call, t), spent + t, calls + 1
    entry.number = max(1, int(settings.min_batch_s / max(per_call, 1e-9)))
    batch = entry.number * per_call
    fit = int(settings.max_entry_s / max(batch, 1e-9))
    entry.max_rounds = min(settings.rounds, max(settings.min_rounds, fit))
    entry.row["info"]["calls_per_batch"] = entry.number


def _time_rounds(entries: list[Entry], settings: Settings, progress):
    """Interleaved rounds: every round visits each row once, starting at a rotated position."""
    for r in range(settings.rounds):
        active = [e for e in entries if len(e.samples) < e.max_rounds]
        if not active:
            break
        progress(f"round {r + 1}/{settings.rounds}")
        shift = r % len(active)
        for e in active[shift:] + active[:shift]:
            e.samples.append(e.timer.timeit(e.number) / e.number)


def _ratios(entries: list[Entry]):
    """Ratios within this run: ÷ hand rows, ÷ the numba objective, ÷ the tool's own objective,
    and srcgrad ÷ this row."""
    timed = {e.spec.label: e.row["time"]["median_s"] for e in entries if e.row["time"]}
    by_tool_obj = {e.spec.tool: e.row["time"]["median_s"] for e in entries
                   if e.row["time"] and e.spec.kind == "objective"}
    src = timed.get("srcgrad")
    for e in entries:
        if not e.row["time"] or e.spec.kind != "gradient":
            continue
        t = e.row["time"]["median_s"]
        ratios = {label: t / timed[label] for label in timed
                  if label.startswith("hand")}
        if "objective" in timed:
            ratios["objective"] = t / timed["objective"]
        own = by_tool_obj.get(e.spec.tool, timed.get("objective"))
        if own:
            ratios["own_objective"] = t / own
        if src and e.spec.tool != "srcgrad":
            ratios["srcgrad_vs_this"] = src / t
        e.row["ratios"] = ratios


def run_case(case, settings: Settings, progress=lambda msg: None) -> dict:
    """Run one workload in this process and return its record (see docs/benchmarks.md)."""
    record = {"name": case.name, "family": case.family, "description": case.description,
              "params": case.params, "time_unit": case.time_unit, "status": "ok",
              "imports_s": {}, "tools": [], "wall_s": None, "cpu_share": None}
    start = time.perf_counter()
    if case.unavailable:
        record["status"] = f"unavailable: {case.unavailable}"
        return record
    try:
        inputs = case.make_inputs()
    except Exception as exc:  # noqa: BLE001
        record["status"] = f"unavailable: {_first_line(exc)}"
        return record
    _numba_warmup()
    record["imports_s"] = _load_tools(case.tools, settings, progress)
    entries = [Entry(spec) for spec in case.tools]
    for e in entries:
        _prepare(e, inputs, settings, progress)
    progress("checking gradients")
    _check(entries)
    timed = [e for e in entries if e.ok]
    for e in timed:
        progress(f"{e.spec.label}: warm-up")
        _calibrate(e, settings)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    _time_rounds(timed, settings, progress)
    wall = time.perf_counter() - wall0
    # CPU time this process got while timing ÷ wall time: well below 1 means other load stole the core.
    record["cpu_share"] = round((time.process_time() - cpu0) / wall, 3) if wall > 0 else None
    for e in timed:
        e.row["time"] = stats(e.samples)
    _ratios(entries)
    for e in entries:
        if e.spec.tool == "srcgrad" and e.row["first_call_s"] is not None:
            e.row["compile"] = {"cold_s": e.row["first_call_s"], "warm_s": None}
    record["tools"] = [e.row for e in entries]
    record["wall_s"] = time.perf_counter() - start
    return record


def probe_first_call(case, tool: str = "srcgrad") -> dict:
    """Only prepare + first call of each row of one tool, by label (the warm-cache measurement
    for srcgrad): {label: {"first_call_s": s} or {"error": first line}}."""
    from benchmarks import peers

    inputs = case.make_inputs()
    _numba_warmup()
    out = {}
    for spec in (s for s in case.tools if s.tool == tool):
        try:
            peers.load(tool)
            start = time.perf_counter()
            spec.prepare(inputs).call()
            out[spec.label] = {"first_call_s": time.perf_counter() - start}
        except Exception as exc:  # noqa: BLE001
            out[spec.label] = {"error": _first_line(exc)}
    return out


# ------------------------------------------------------------------ subprocess per workload


def run_case_subprocess(name: str, settings: Settings, cache_dir: str, progress=lambda msg: None,
                        probe: str | None = None) -> dict:
    """Run one workload (or a first-call probe) in a fresh Python; return its record."""
    result = Path(cache_dir) / f"result-{os.getpid()}-{time.monotonic_ns()}.json"
    cmd = [sys.executable, "-m", "benchmarks.harness", "--case", name, "--result", str(result),
           "--settings", json.dumps(asdict(settings))] + (["--probe", probe] if probe else [])
    env = pinned_env(settings.threads)
    env["SRCGRAD_CACHE_DIR"] = str(Path(cache_dir) / "srcgrad-cache")
    log: list[str] = []
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, errors="replace")
    killer = threading.Timer(settings.timeout_s, proc.kill)
    killer.start()
    try:
        for line in proc.stdout:
            if line.startswith("@progress "):
                progress(line[len("@progress "):].rstrip())
            else:
                log.append(line.rstrip())
        proc.wait()
    finally:
        killer.cancel()
    if result.exists():
        data = json.loads(result.read_text())
        result.unlink()
        if log and isinstance(data, dict):
            data["log_tail"] = log[-20:]
        return data
    timed_out = proc.returncode in (-9, 137)
    last = next((ln for ln in reversed(log) if ln.strip()), "")
    status = (f"timeout after {settings.timeout_s:.0f} s" if timed_out
              else f"error: subprocess exited {proc.returncode}: {last[:200]}")
    return {"name": name, "status": status, "tools": [], "log_tail": log[-20:]}


def _child(argv=None):
    parser = argparse.ArgumentParser(description="run one workload (internal)")
    parser.add_argument("--case", required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--settings", required=True)
    parser.add_argument("--probe")
    args = parser.parse_args(argv)
    settings = Settings(**json.loads(args.settings))

    def progress(msg):
        print(f"@progress {msg}", file=sys.stderr, flush=True)

    from benchmarks import workloads

    case = workloads.find(args.case, settings.quick)
    data = probe_first_call(case, args.probe) if args.probe else run_case(case, settings, progress)
    tmp = Path(args.result + ".tmp")
    tmp.write_text(json.dumps(data, default=float))
    tmp.replace(args.result)


if __name__ == "__main__":
    _child()
