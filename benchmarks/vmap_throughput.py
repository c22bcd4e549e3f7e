"""Throughput of batched gradients: ``sg.vmap`` (CPU threads, CUDA) vs a Python loop and JAX.

    python -m benchmarks.vmap_throughput                 # CPU target (+ JAX if installed)
    python -m benchmarks.vmap_throughput --cuda          # also the CUDA target (needs a GPU)
    python -m benchmarks.vmap_throughput --cuda-only     # the CUDA target (+ JAX on the GPU)
    python -m benchmarks.vmap_throughput --n 1000000 --threads 2 --json out.json

Two workloads:

- elementwise: the gradient of a scalar function f(x, y) at n points (both partials);
- per-example: the gradients of a logistic loss (a loop over d features inside) for n examples
  with shared weights, and their sum (``batch_grad``).

Numbers are gradients per second (best of ``--rounds`` after a warm-up call, so compile time is
excluded; the asynchronous per-example CUDA calls are timed as 5 calls and a synchronize).  The
CUDA elementwise case also reports the achieved memory bandwidth (32 bytes per gradient x
gradients/s) against the device's theoretical peak (the target is >= 50%) and against a copy
kernel with the same traffic, for two functions: f (sin, exp, sqrt) and x * y (no arithmetic),
each for the whole call and for the kernel alone (CUDA events, outputs preallocated).  The CUDA
part runs JAX at the same sizes on the same GPU, if it is installed.
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


def _jax_gradients():
    """(elementwise, per-example, summed) jitted JAX gradients of the same f and loss, and a sync."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def jf(a, b):
        return jnp.sin(a) * b + a * a * jnp.exp(-b) + jnp.sqrt(1.0 + a * a)

    def jloss(wv, xv, yv):
        return jnp.log(1.0 + jnp.exp(-yv * jnp.dot(wv, xv)))

    elem = jax.jit(jax.vmap(jax.grad(jf, argnums=(0, 1))))
    per = jax.jit(jax.vmap(jax.grad(jloss), in_axes=(None, 0, 0)))
    summed = jax.jit(jax.grad(lambda wv, Xv, Yv: jnp.sum(jax.vmap(jloss, in_axes=(None, 0, 0))(wv, Xv, Yv))))
    return elem, per, summed, jax.block_until_ready


def _jax_rates(inputs, n, n_ex, rounds, suffix=""):
    elem, per, summed, sync = _jax_gradients()
    xj, yj, wj, Xj, Yj = inputs
    return {
        f"jax elementwise vmap(grad){suffix}": n / best(lambda: elem(xj, yj), rounds, sync),
        f"jax per-example vmap(grad){suffix}": n_ex / best(lambda: per(wj, Xj, Yj), rounds, sync),
        f"jax summed grad{suffix}": n_ex / best(lambda: summed(wj, Xj, Yj), rounds, sync),
    }


def jax_rates(n, d, x, y, w, X, Y, rounds):
    try:
        import jax.numpy as jnp
    except ImportError:
        return {"jax": "not installed"}
    return _jax_rates([jnp.asarray(a) for a in (x, y, w, X, Y)], n, len(Y), rounds)


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


def fxy(x, y):  # pure bandwidth: the gradient (y, x) needs no arithmetic
    return x * y


def logistic_mat(W, x, y):  # a 2-D shared gradient (W: h x d)
    z = 0.0
    for a in range(W.shape[0]):
        t = 0.0
        for j in range(x.shape[0]):
            t += W[a, j] * x[j]
        z += math.tanh(t)
    return math.log(1.0 + math.exp(-y * z))


def _per_call(fn, rounds: int, reps: int) -> float:
    """Best over ``rounds`` of the mean time of ``reps`` back-to-back calls, then a synchronize
    (the per-example CUDA calls are asynchronous when the inputs are on the device)."""
    from numba import cuda

    fn()
    cuda.synchronize()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        cuda.synchronize()
        times.append((time.perf_counter() - t) / reps)
    return min(times)


def _event_time(launch, rounds: int, reps: int) -> float:
    """Seconds per ``launch()`` on the device: one warm-up, then the best of ``rounds`` runs of
    ``reps`` launches timed with CUDA events (the simulator's events say 0: at least 1 ns)."""
    from numba import cuda

    launch()
    cuda.synchronize()
    best_t = math.inf
    for _ in range(rounds):
        a, b = cuda.event(), cuda.event()
        a.record()
        for _ in range(reps):
            launch()
        b.record()
        b.synchronize()
        best_t = min(best_t, a.elapsed_time(b) / 1e3 / reps)
    return max(best_t, 1e-9)


def _kernel_time(vm, args, rounds: int, reps: int = 5) -> tuple:
    """(seconds, registers per thread) of the elementwise per-example kernel alone, outputs
    preallocated, timed with CUDA events: the call minus srcgrad's host side."""
    from numba import cuda

    from srcgrad.vmap import example_types

    axes = (0,) * len(args)
    spec = vm._cuda.spec(example_types(args, axes), axes)
    n = args[0].shape[0]
    outs = [cuda.device_array(n, dtype=d) for d in spec.dev.scalar_dtypes]
    err = cuda.to_device(np.zeros(1, dtype=np.int32))
    blocks = (n + vm._cuda.tpb - 1) // vm._cuda.tpb
    launch = spec.kernel[blocks, vm._cuda.tpb]
    best_t = _event_time(lambda: launch(n, *args, *outs, err), rounds, reps)
    try:
        regs = spec.kernel.get_regs_per_thread()
        regs = regs if isinstance(regs, int) else max(regs.values())
    except Exception:  # noqa: BLE001 (an API that differs between numba-cuda versions)
        regs = None
    return best_t, regs


cuda = None  # numba.cuda, imported when the CUDA part runs (the kernel below reads this global)


def _summed_kernel_time(vm, args, axes, rounds: int, reps: int = 5) -> float:
    """The summed kernel alone (as the last call launched it), timed with CUDA events."""
    from numba import cuda

    from srcgrad.vmap import example_types

    spec = vm._cuda.spec(example_types(args, axes), axes)
    kind, blocks, nt, shared = vm._cuda.last_launch[:4]
    private = kind == "kernel_private"
    dev = spec.dev_private if private else spec.dev
    n = next(a.shape[0] for a, ax in zip(args, axes) if ax is not None)
    bufs = []
    for _, param, dtype, _ in dev.buffers:
        shape = args[param].shape[1:] if axes[param] is not None else args[param].shape
        bufs.append(cuda.to_device(np.zeros(int(np.prod(shape)) if private else shape, dtype=dtype)))
    scal = [cuda.to_device(np.zeros(1, dtype=d)) for d in dev.scalar_dtypes]
    err = cuda.to_device(np.zeros(1, dtype=np.int32))
    extra = (vm._cuda.last_launch[4],) if private else ()

    def launch():
        (spec.private if private else spec.kernel)[blocks, nt, 0, shared](n, *args, *bufs, *scal, err, *extra)

    return _event_time(launch, rounds, reps)


def _copy2(x, y, u, v):
    i = cuda.grid(1)
    if i < x.shape[0]:
        u[i] = y[i]
        v[i] = x[i]


def _copy_time(x, y, rounds: int, reps: int = 5) -> float:
    """The bandwidth ceiling for the elementwise traffic: read x and y, write two arrays."""
    global cuda
    from numba import cuda

    copy2 = cuda.jit(_copy2)
    n = x.shape[0]
    u, v = cuda.device_array_like(x), cuda.device_array_like(y)
    blocks = (n + 255) // 256
    return _event_time(lambda: copy2[blocks, 256](x, y, u, v), rounds, reps)


def jax_cuda_rates(n, n_ex, d, x, y, w, X, Y, rounds):
    """JAX on the same device and sizes as the CUDA target (inputs already on the device)."""
    import os

    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    try:
        import jax
    except ImportError:
        return {"jax (cuda sizes)": "not installed"}
    if jax.default_backend() != "gpu":
        return {"jax (cuda sizes)": "no GPU backend"}
    inputs = [jax.device_put(a.copy_to_host()) for a in (x, y, w, X, Y)]
    return _jax_rates(inputs, n, n_ex, rounds, " (cuda sizes)")


def cuda_rates(n, n_ex, d, rounds, peers=False):
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
    out = {"device": name}
    if peak:
        out["peak memory bandwidth GB/s (clock x bus width)"] = peak / 1e9
    copy_bw = 32 * n / _copy_time(x, y, rounds)
    out["copy ceiling GB/s (read x, y; write 2 arrays)"] = copy_bw / 1e9
    # elementwise: reads x, y and writes both partials, 4 float64 = 32 bytes per gradient
    for label, tag, fn in (("f = sin, exp, sqrt", "sin", f), ("f = x * y", "x*y", fxy)):
        for tpb in (128, 256):
            elem = sg.vmap(sg.grad(fn, argnums=(0, 1)), target="cuda", threads_per_block=tpb)
            t = _per_call(lambda: elem(x, y), rounds, 5)  # noqa: B023
            tk, regs = _kernel_time(elem, (x, y), rounds)
            tag_ = f"  {tag} tpb={tpb}"
            out[f"srcgrad vmap elementwise {label} (cuda, tpb={tpb})"] = n / t
            out[f"{tag_} call ms"] = t * 1e3
            out[f"{tag_} kernel alone ms (registers/thread {regs})"] = tk * 1e3
            if peak:
                out[f"{tag_} call: fraction of peak bandwidth (target >= 0.5)"] = 32 * n / t / peak
                out[f"{tag_} kernel alone: fraction of peak bandwidth"] = 32 * n / tk / peak
            out[f"{tag_} kernel alone: fraction of the copy ceiling"] = 32 * n / tk / copy_bw
    per = sg.vmap(sg.grad(logistic), in_axes=(None, 0, 0), target="cuda", threads_per_block=128)
    out[f"srcgrad vmap per-example (cuda, d={d})"] = n_ex / _per_call(lambda: per(w, X, Y), rounds, 3)
    out["  per-example launch (kernel, blocks, threads, shared bytes, staged)"] = str(per._cuda.last_launch)
    from srcgrad.backends import cuda as cuda_backend

    cuda_backend.TILED_ROWS = False  # one thread per example, writing its own output row
    per1 = sg.vmap(sg.grad(logistic), in_axes=(None, 0, 0), target="cuda", threads_per_block=128)
    out[f"srcgrad vmap per-example, not tiled (cuda, d={d})"] = n_ex / _per_call(lambda: per1(w, X, Y), rounds, 3)
    cuda_backend.TILED_ROWS = True
    summed = sg.batch_grad(logistic, in_axes=(None, 0, 0), target="cuda", threads_per_block=128)
    out[f"srcgrad batch_grad summed (cuda, d={d})"] = n_ex / best(lambda: summed(w, X, Y), rounds)
    out["  summed launch (kernel, blocks, threads, shared bytes, staged)"] = str(summed._cuda.last_launch)
    out["  summed kernel alone ms"] = _summed_kernel_time(summed, (w, X, Y), (None, 0, 0), rounds) * 1e3

    cuda_backend.STAGE_ROWS = False  # each thread reads its row from global memory
    unstaged = sg.batch_grad(logistic, in_axes=(None, 0, 0), target="cuda", threads_per_block=128)
    out[f"srcgrad batch_grad summed, rows not staged (cuda, d={d})"] = n_ex / best(
        lambda: unstaged(w, X, Y), rounds)
    out["  not staged: kernel alone ms"] = _summed_kernel_time(unstaged, (w, X, Y), (None, 0, 0), rounds) * 1e3
    cuda_backend.STAGE_ROWS = True
    # larger gradients: fewer threads per block share the 48 KB; past that, global atomics
    for dd, m in ((64, n_ex), (256, n_ex // 16)):
        Xd = cuda.to_device(rng.normal(size=(m, dd)))
        wd = cuda.to_device(rng.normal(size=dd) / math.sqrt(dd))
        s = sg.batch_grad(logistic, in_axes=(None, 0, 0), target="cuda", threads_per_block=128)
        out[f"srcgrad batch_grad summed (cuda, d={dd}, {m} examples)"] = m / best(
            lambda: s(wd, Xd, Y[:m]), rounds)  # noqa: B023
        out[f"  launch d={dd}"] = str(s._cuda.last_launch)
        out[f"  kernel alone ms d={dd}"] = _summed_kernel_time(s, (wd, Xd, Y[:m]), (None, 0, 0), rounds) * 1e3
    Wm = cuda.to_device(rng.normal(size=(4, d)) / math.sqrt(d))
    sm = sg.batch_grad(logistic_mat, in_axes=(None, 0, 0), target="cuda", threads_per_block=128)
    out[f"srcgrad batch_grad summed 2-D W (cuda, 4 x {d})"] = n_ex / best(lambda: sm(Wm, X, Y), rounds)
    if peers:
        out.update(jax_cuda_rates(n, n_ex, d, x, y, w, X, Y, rounds))
    return out


def ncu_target(n, n_ex, d):
    """One call each of the elementwise kernels (f, then x * y) and the summed logistic kernel:
    a program for a profiler, e.g. ``ncu -k regex:kernel -c 3 python -m benchmarks.vmap_throughput
    --ncu-target``."""
    from numba import cuda

    rng = np.random.default_rng(0)
    x = cuda.to_device(rng.uniform(-2, 2, n))
    y = cuda.to_device(rng.uniform(0.5, 1.5, n))
    for fn in (f, fxy):
        sg.vmap(sg.grad(fn, argnums=(0, 1)), target="cuda")(x, y)
    X = cuda.to_device(rng.normal(size=(n_ex, d)))
    Y = cuda.to_device(np.where(rng.random(n_ex) < 0.5, -1.0, 1.0))
    w = cuda.to_device(rng.normal(size=d) / math.sqrt(d))
    sg.batch_grad(logistic, in_axes=(None, 0, 0), target="cuda")(w, X, Y)
    cuda.synchronize()


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
    parser.add_argument("--cuda-only", action="store_true", help="skip the CPU target")
    parser.add_argument("--json", metavar="FILE", help="write the numbers as JSON")
    parser.add_argument("--ncu-target", action="store_true", help="only run each CUDA kernel once (for ncu)")
    args = parser.parse_args(argv)
    if args.ncu_target:
        return ncu_target(args.cuda_n, args.cuda_examples, args.d)
    import numba

    if args.threads:
        numba.set_num_threads(args.threads)
    results = {"threads": numba.get_num_threads(), "n": args.n, "examples": args.examples, "d": args.d}
    if not args.cuda_only:
        results.update(cpu_rates(args.n, args.examples, args.d, args.rounds, not args.no_peers))
    if args.cuda or args.cuda_only:
        results.update(cuda_rates(args.cuda_n, args.cuda_examples, args.d, args.rounds, not args.no_peers))
    for k, v in results.items():
        text = f"{v:14.4g}" if isinstance(v, float) else f"{v!s:>14}"
        rate = isinstance(v, float) and ("srcgrad" in k or "loop" in k or "jax" in k)
        print(f"{k:78s} {text}" + ("  gradients/s" if rate else ""), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
