"""Cold compile time of srcgrad gradients (issue 3's target: at most 5 s each on the dev VM).

    python -m benchmarks.compile_times            # every workload, once
    python -m benchmarks.compile_times -r 3       # three runs each; the table shows the median
    python -m benchmarks.compile_times mlp lstm   # only these

Each measurement runs in a fresh Python process with a fresh, empty ``SRCGRAD_CACHE_DIR``: the
time of the first call of the gradient (srcgrad's pipeline, numba's typing, lowering and LLVM
for the generated function), not counting imports.  numba's own cache of srcgrad's runtime
helpers (``srcgrad/runtime/__pycache__``) is kept, as on any machine where srcgrad has run
once; ``--cold-runtime`` also points ``NUMBA_CACHE_DIR`` at an empty folder, which makes the
helpers compile too (the first run on a new machine).  Wall and CPU seconds are both shown:
on a loaded machine CPU time is the steadier number.

Workloads: a 2-layer MLP's gradient (four parameters), the ADBench LSTM in NumPy form and in
loop form (gradient in main_params and extra_params), logistic regression (10k x 100).
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

_SETUP = {
    "mlp": """
        def mlp_loss(W1, b1, W2, b2, X, y):
            h = np.tanh(X @ W1 + b1)
            out = h @ W2 + b2
            return np.mean((out - y) ** 2)
        rng = np.random.default_rng(0)
        args = (rng.standard_normal((10, 32)), np.zeros(32), rng.standard_normal((32, 3)), np.zeros(3),
                rng.standard_normal((64, 10)), rng.standard_normal((64, 3)))
        g = srcgrad.grad(mlp_loss, argnums=(0, 1, 2, 3))
    """,
    "lstm": """
        from benchmarks.adbench import lstm
        rng = np.random.default_rng(0)
        args = (rng.standard_normal((4, 56)), rng.standard_normal((3, 14)), rng.standard_normal((4, 14)),
                rng.standard_normal((8, 14)))
        g = srcgrad.grad(lstm.lstm_objective, argnums=(0, 1))
    """,
    "lstm_loops": """
        from benchmarks.adbench import lstm
        rng = np.random.default_rng(0)
        args = (rng.standard_normal((4, 56)), rng.standard_normal((3, 14)), rng.standard_normal((4, 14)),
                rng.standard_normal((8, 14)))
        g = srcgrad.grad(lstm.lstm_objective_loops, argnums=(0, 1))
    """,
    "logreg": """
        from benchmarks.workloads.logreg import inputs, logreg_loss
        args = inputs(10_000, 100)
        g = srcgrad.grad(logreg_loss)
    """,
}

_LABELS = {"mlp": "2-layer MLP", "lstm": "LSTM (NumPy form)", "lstm_loops": "LSTM (loop form)",
           "logreg": "logistic regression"}

_CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
import numpy as np
import srcgrad
{setup}
w0, c0 = time.perf_counter(), time.process_time()
g(*args)
w1, c1 = time.perf_counter(), time.process_time()
print(json.dumps({{"wall": w1 - w0, "cpu": c1 - c0}}))
"""


def measure(name: str, cold_runtime: bool = False) -> dict:
    """First-call time of workload ``name`` in a fresh process with an empty srcgrad cache."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = _CHILD.format(root=root, setup=textwrap.dedent(_SETUP[name]))
    with tempfile.TemporaryDirectory(prefix="srcgrad-ct-") as tmp:
        env = dict(os.environ, SRCGRAD_CACHE_DIR=os.path.join(tmp, "srcgrad"))
        if cold_runtime:
            env["NUMBA_CACHE_DIR"] = os.path.join(tmp, "numba")
        script = os.path.join(tmp, f"ct_{name}.py")  # srcgrad reads functions' source from files
        with open(script, "w") as fh:
            fh.write(code)
        out = subprocess.run([sys.executable, script], env=env, cwd=root, capture_output=True,
                             text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workloads", nargs="*", choices=[*_SETUP, []], help="default: all")
    ap.add_argument("-r", "--repeat", type=int, default=1, help="runs per workload (median shown)")
    ap.add_argument("--cold-runtime", action="store_true",
                    help="also start numba's cache of srcgrad's runtime helpers empty")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args(argv)
    names = args.workloads or list(_SETUP)
    results = {}
    print(f"{'workload':<22} {'wall s':>8} {'cpu s':>8}   runs (wall)")
    for name in names:
        runs = [measure(name, args.cold_runtime) for _ in range(args.repeat)]
        wall = statistics.median(r["wall"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        results[name] = {"wall_s": wall, "cpu_s": cpu, "runs": runs}
        each = " ".join(f"{r['wall']:.1f}" for r in runs)
        print(f"{_LABELS[name]:<22} {wall:8.2f} {cpu:8.2f}   {each}", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
