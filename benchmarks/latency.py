"""Per-call latency of a compiled srcgrad gradient called from Python, against a hand-written
``@numba.njit`` gradient of the same function (issue 2's target: at most 1.25x).

    python benchmarks/latency.py                 # per-call latency, about 10 s
    python benchmarks/latency.py --startup       # also: a fresh process's time to its first
                                                 # gradient (cache warm), srcgrad vs hand njit

f(x, y) = 3x² + 2xy + y².  Both gradients are called the same way from the same Python loop;
measurements of the two alternate (so both see the same machine load) and the median of many
repeats is reported, together with an empty-loop baseline (the cost of the Python loop itself).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

import numba

import srcgrad as sg


def f(x, y):
    return 3.0 * x ** 2 + 2.0 * x * y + y ** 2


@numba.njit(cache=False)
def hand_grad(x, y):
    return 6.0 * x + 2.0 * y, 2.0 * x + 2.0 * y


def _noop(x, y):
    return x, y


def _per_call(fn, calls: int) -> float:
    x, y = 1.5, -0.5
    t0 = time.perf_counter()
    for _ in range(calls):
        fn(x, y)
    return (time.perf_counter() - t0) / calls


def measure(repeats: int, calls: int) -> dict:
    srcgrad_grad = sg.grad(f, argnums=(0, 1))
    assert srcgrad_grad(1.5, -0.5) == hand_grad(1.5, -0.5) == (8.0, 2.0)
    for fn in (srcgrad_grad, hand_grad, _noop):  # warm up (compile, caches)
        _per_call(fn, calls)
    sg_t, hand_t, loop_t, ratios = [], [], [], []
    for _ in range(repeats):
        a = _per_call(srcgrad_grad, calls)
        b = _per_call(hand_grad, calls)
        loop_t.append(_per_call(_noop, calls))
        sg_t.append(a)
        hand_t.append(b)
        ratios.append(a / b)
    return {
        "srcgrad_ns": statistics.median(sg_t) * 1e9,
        "hand_ns": statistics.median(hand_t) * 1e9,
        "python_call_ns": statistics.median(loop_t) * 1e9,
        "ratio": statistics.median(sg_t) / statistics.median(hand_t),
        "ratio_median_of_pairs": statistics.median(ratios),
        "repeats": repeats,
        "calls": calls,
    }


_STARTUP_MODULE = textwrap.dedent("""
    import numba


    def f(x, y):
        return 3.0 * x ** 2 + 2.0 * x * y + y ** 2


    @numba.njit(cache=True)
    def hand_grad(x, y):
        return 6.0 * x + 2.0 * y, 2.0 * x + 2.0 * y
""")

_STARTUP_CHILD = textwrap.dedent("""
    import json, sys, time
    t0, c0 = time.perf_counter(), time.process_time()
    sys.path.insert(0, sys.argv[1])
    if sys.argv[2] == "srcgrad":
        import srcgrad as sg
        import latmod
        g = sg.grad(latmod.f, argnums=(0, 1))
    else:
        import latmod
        g = latmod.hand_grad
    g(1.5, -0.5)
    print(json.dumps([time.perf_counter() - t0, time.process_time() - c0]))
""")


def measure_startup(runs: int) -> dict:
    """A fresh process: import, then the first gradient, with every cache already warm."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="srcgrad-latency-") as tmp:
        with open(os.path.join(tmp, "latmod.py"), "w") as fh:
            fh.write(_STARTUP_MODULE)
        env = dict(os.environ, SRCGRAD_CACHE_DIR=os.path.join(tmp, "cache"),
                   NUMBA_CACHE_DIR=os.path.join(tmp, "numba-cache"))
        samples = {"srcgrad": [], "hand": []}
        for k in range(runs + 1):
            for tool in samples:
                res = subprocess.run([sys.executable, "-c", _STARTUP_CHILD, tmp, tool],
                                     capture_output=True, text=True, env=env, check=True)
                if k:  # the first run of each fills the caches
                    samples[tool].append(json.loads(res.stdout))
        for tool, got in samples.items():
            out[tool] = {"wall_ms": statistics.median(w for w, _ in got) * 1e3,
                         "cpu_ms": statistics.median(c for _, c in got) * 1e3}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=41)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--startup", action="store_true",
                        help="also time a fresh process's first gradient (warm caches)")
    parser.add_argument("--startup-runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args(argv)

    res = measure(args.repeats, args.calls)
    if args.startup:
        res["startup"] = measure_startup(args.startup_runs)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print("gradient of 3x² + 2xy + y² at (1.5, -0.5), called from Python "
          f"(median of {res['repeats']} x {res['calls']} calls, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"  srcgrad.grad(f, argnums=(0, 1))   {res['srcgrad_ns']:8.1f} ns/call")
    print(f"  hand-written @numba.njit gradient {res['hand_ns']:8.1f} ns/call")
    print(f"  (an empty Python call: {res['python_call_ns']:.1f} ns/call)")
    print(f"  ratio srcgrad / hand: {res['ratio']:.3f}  (median of paired ratios "
          f"{res['ratio_median_of_pairs']:.3f}; target <= 1.25)")
    if "startup" in res:
        s = res["startup"]
        print("fresh process, warm caches: import -> first gradient (median of "
              f"{args.startup_runs})")
        for tool in ("srcgrad", "hand"):
            print(f"  {tool:8s} {s[tool]['wall_ms']:7.0f} ms wall  {s[tool]['cpu_ms']:7.0f} ms CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
