"""Throughput of batched gradients: ``sg.vmap`` (CPU threads, CUDA) vs a Python loop and JAX.

    python -m benchmarks.vmap_throughput                 # CPU target (+ JAX if installed)
    python -m benchmarks.vmap_throughput --cuda          # also the CUDA target (needs a GPU)
    python -m benchmarks.vmap_throughput --n 1000000 --threads 2 --json out.json

Two workloads:

- elementwise: the gradient of a scalar function f(x, y) at n points (both partials);
- per-example: the gradients of a logistic loss (a loop over d features inside) for n examples
  with shared weights, and their sum (``batch_grad``).

Numbers are gradients per second (best of ``--rounds`` after a warm-up call, so compile time is
excluded).  The CUDA elementwise case also reports the achieved memory bandwidth (bytes read and
written per gradient x gradients/s) against the device's theoretical peak; the target is >= 50%.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

import srcgrad as sg


def f(x, y):
    return math.sin(x) * y + x * x * math.exp(-y) + math.sqrt(1.0 + x * x)


def logistic(w, x, y):
    z = 0.0
    for j in range(x.shape[0]):
        z += w[j] * x[j]
    return math.log(1.0 + math.exp(-y * z))


def best(fn, rounds: int, sync=lambda r: r) -> float:
    sync(fn())  # warm-up: compiles
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        sync(fn())
        times.append(time.perf_counter() - t)
    return min(times)


def python_loop_rate(fn, args_at, count: int, rounds: int) -> float:
    def run():
        for i in range(count):
            fn(*args_at(i))
    return count / best(run, rounds)


def jax_rates(n, d, x, y, w, X, Y, rounds):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return {"jax": "not installed"}
    jax.config.update("jax_enable_x64", True)

    def jf(a, b):
        return jnp.sin(a) * b + a * a * jnp.exp(-b) + jnp.sqrt(1.0 + a * a)

    def jloss(wv, xv, yv):
        return jnp.log(1.0 + jnp.exp(-yv * jnp.dot(wv, xv)))

    sync = jax.block_until_ready
    elem = jax.jit(jax.vmap(jax.grad(jf, argnums=(0, 1))))
    per = jax.jit(jax.vmap(jax.grad(jloss), in_axes=(None, 0, 0)))
    summed = jax.jit(jax.grad(lambda wv, Xv, Yv: jnp.sum(jax.vmap(jloss, in_axes=(None, 0, 0))(wv, Xv, Yv))))
    xj, yj, wj, Xj, Yj = (jnp.asarray(a) for a in (x, y, w, X, Y))
    return {
        "jax elementwise vmap(grad)": n / best(lambda: elem(xj, yj), rounds, sync),
        "jax per-example vmap(grad)": len(Y) / best(lambda: per(wj, Xj, Yj), rounds, sync),
        "jax summed grad": len(Y) / best(lambda: summed(wj, Xj, Yj), rounds, sync),
    }


def cpu_rates(n, n_ex, d, rounds, peers):
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, n)
    y = rng.uniform(0.5, 1.5, n)
    X = rng.normal(size=(n_ex, d))
    Y = np.where(rng.random(n_ex) < 0.5, -1.0, 1.0)
    w = rng.normal(size=d) / math.sqrt(d)
    g = sg.grad(f, argnums=(0, 1))
    gl = sg.grad(logistic)
    elem = sg.vmap(g)
    per = sg.vmap(gl, in_axes=(None, 0, 0))
    summed = sg.batch_grad(logistic, in_axes=(None, 0, 0))
    loop_n = min(n, 200_000)
    out = {
        "srcgrad vmap elementwise (cpu)": n / best(lambda: elem(x, y), rounds),
        "python loop over sg.grad elementwise": python_loop_rate(g, lambda i: (x[i], y[i]), loop_n, 3),
        "srcgrad vmap per-example (cpu)": n_ex / best(lambda: per(w, X, Y), rounds),
        "srcgrad batch_grad summed (cpu)": n_ex / best(lambda: summed(w, X, Y), rounds),
        "python loop over sg.grad per-example": python_loop_rate(
            gl, lambda i: (w, X[i], Y[i]), min(n_ex, 100_000), 3),
    }
    if peers:
        out.update(jax_rates(n, d, x, y, w, X, Y, rounds))
    return out


def cuda_rates(n, n_ex, d, rounds):
    from numba import cuda

    from srcgrad.backends.cuda import require_cuda

    require_cuda()
    try:
        dev = cuda.get_current_device()
        # theoretical peak: memory clock (kHz) x bus width (bits) x 2 (double data rate) / 8
        peak = dev.MEMORY_CLOCK_RATE * 1e3 * dev.GLOBAL_MEMORY_BUS_WIDTH * 2 / 8
        name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    except Exception:  # noqa: BLE001 (the simulator has no device attributes)
        peak, name = None, "simulator"
    rng = np.random.default_rng(0)
    x = cuda.to_device(rng.uniform(-2, 2, n))
    y = cuda.to_device(rng.uniform(0.5, 1.5, n))
    X = cuda.to_device(rng.normal(size=(n_ex, d)))
    Y = cuda.to_device(np.where(rng.random(n_ex) < 0.5, -1.0, 1.0))
    w = cuda.to_device(rng.normal(size=d) / math.sqrt(d))
    sync = lambda r: cuda.synchronize()  # noqa: E731
    out = {}
    for tpb in (128, 256):
        elem = sg.vmap(sg.grad(f, argnums=(0, 1)), target="cuda", threads_per_block=tpb)
        t = best(lambda: elem(x, y), rounds, sync)  # noqa: B023
        bw = 32 * n / t  # reads x, y; writes both partials: 4 float64 per gradient
        out[f"srcgrad vmap elementwise (cuda, tpb={tpb})"] = n / t
        out[f"  bandwidth GB/s (tpb={tpb})"] = bw / 1e9
        if peak:
            out[f"  fraction of peak {peak / 1e9:.0f} GB/s (target >= 0.5)"] = bw / peak
    per = sg.vmap(sg.grad(logistic), in_axes=(None, 0, 0), target="cuda", threads_per_block=128)
    out["srcgrad vmap per-example (cuda)"] = n_ex / best(lambda: per(w, X, Y), rounds, sync)
    summed = sg.batch_grad(logistic, in_axes=(None, 0, 0), target="cuda", threads_per_block=128)
    out["srcgrad batch_grad summed (cuda, atomics)"] = n_ex / best(lambda: summed(w, X, Y), rounds)
    out["device"] = name
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="points of the elementwise case")
    parser.add_argument("--examples", type=int, default=200_000, help="examples of the logistic case")
    parser.add_argument("--d", type=int, default=16, help="features of the logistic case")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, help="numba threads for the CPU target")
    parser.add_argument("--cuda", action="store_true", help="also run the CUDA target")
    parser.add_argument("--cuda-n", type=int, default=1 << 26, help="points of the CUDA elementwise case")
    parser.add_argument("--cuda-examples", type=int, default=1 << 22, help="examples of the CUDA logistic case")
    parser.add_argument("--no-peers", action="store_true", help="skip JAX")
    parser.add_argument("--json", metavar="FILE", help="write the numbers as JSON")
    args = parser.parse_args(argv)
    import numba

    if args.threads:
        numba.set_num_threads(args.threads)
    results = {"threads": numba.get_num_threads(), "n": args.n, "examples": args.examples, "d": args.d}
    results.update(cpu_rates(args.n, args.examples, args.d, args.rounds, not args.no_peers))
    if args.cuda:
        results.update(cuda_rates(args.cuda_n, args.cuda_examples, args.d, args.rounds))
    for k, v in results.items():
        text = f"{v:14.4g}" if isinstance(v, float) else f"{v!s:>14}"
        print(f"{k:60s} {text}" + ("  gradients/s" if isinstance(v, float) and "srcgrad" in k or
                                      "loop" in k or "jax" in k else ""))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
