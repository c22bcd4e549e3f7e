"""srcgrad's gradient of loop programs against hand-written numba adjoints, in one process.

    python -m benchmarks.loops_vs_hand [--gmm-n 1k,10k,10k-K25] [--repeat 30]

Prints the best-of-N time per call (after a warm-up call that compiles) for: Rosenbrock as a
loop, n=10^6 (srcgrad, the hand adjoint with a forward sweep, the hand-fused single loop); the
damped oscillator with Euler steps, T=10^4; ADBench GMM d=10 K=25 n=1k (and K=5 n=10k, K=25 n=10k), when the
data folder is present.  Also checks that a second call with a fresh 10^6-element input
compiles nothing (the dispatcher's signature count stays the same).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import srcgrad as sg
from benchmarks.adbench import gmm
from benchmarks.workloads import oscillator as osc
from benchmarks.workloads import rosenbrock as rb


def best_of(fn, args, repeat):
    fn(*args)  # warm-up (compiles)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best


def row(name, t, ref=None):
    ratio = f"  ({t / ref:.2f}x hand)" if ref else ""
    print(f"  {name:<34s} {t * 1e3:9.3f} ms{ratio}")


def rosenbrock(repeat):
    print("Rosenbrock loop, n=1e6")
    x = rb.inputs(1_000_000)[0]
    g = sg.grad(rb.rosenbrock)
    np.testing.assert_allclose(g(x), rb.rosenbrock_grad_hand(x), rtol=1e-9, atol=1e-12)
    hand = best_of(rb.rosenbrock_grad_hand, (x,), repeat)
    row("hand adjoint (forward + reverse)", hand)
    row("hand-fused single loop", best_of(rb.rosenbrock_grad_fused, (x,), repeat), hand)
    row("srcgrad grad", best_of(g, (x,), repeat), hand)
    nsig = len(g.signatures)
    g(np.random.default_rng(1).uniform(-1, 1, 1_000_000))
    print(f"  second 1e6 input compiled nothing: {len(g.signatures) == nsig}")
    body = g.source.split("def rosenbrock_grad")[1].splitlines()
    loops = sum(1 for ln in body if ln.strip().startswith("for "))
    print(f"  generated gradient: {loops} loop(s), tapes: {'tape_' in g.source}")


def oscillator(repeat):
    print("Damped oscillator, semi-implicit Euler, T=1e4")
    args = (2.0, 0.3, 1.0, osc.DT, 10_000)
    g = sg.grad(osc.oscillator, argnums=(0, 1, 2))
    np.testing.assert_allclose(g(*args), osc.oscillator_grad_hand(*args), rtol=1e-9)
    hand = best_of(osc.oscillator_grad_hand, args, repeat)
    row("hand adjoint", hand)
    row("srcgrad grad", best_of(g, args, repeat), hand)


def gmm_case(n_label, repeat):
    from benchmarks.adbench import data

    if data.adbench_dir() is None:
        print(f"GMM {n_label}: ADBench data folder not found ({data.default_adbench_path()})")
        return
    if n_label == "10k-K25":  # the issue's size: no ADBench file, so 1k K=25's parameters, 10k points
        from benchmarks.workloads.adbench_gmm import MIXED

        g, x = data.read_gmm(MIXED[0]), data.read_gmm(MIXED[1]).x
    else:
        name = "gmm_d10_K25.txt" if n_label == "1k" else "gmm_d10_K5.txt"  # no K=25 file at 10k
        g = data.read_gmm(f"data/gmm/{n_label}/{name}")
        x = g.x
    args = (g.alphas, g.means, g.icf, x, g.wishart_gamma, g.wishart_m)
    print(f"ADBench GMM d=10 K={g.k} n={x.shape[0]}")
    vg = sg.value_and_grad(gmm.gmm_objective_loops, argnums=(0, 1, 2))
    t0 = time.perf_counter()
    v, grads = vg(*args)
    print(f"  srcgrad compile + first call     {time.perf_counter() - t0:9.2f} s")
    ref = gmm.gmm_grad_hand(*args)
    np.testing.assert_allclose(v, ref[0], rtol=1e-10)
    for a, b in zip(grads, ref[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-8)
    pointwise = gmm.gmm_grad_hand_pointwise(*args)
    for a, b in zip(pointwise, ref):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    hand = best_of(gmm.gmm_grad_hand, args, repeat)
    row("hand adjoint", hand)
    row("hand adjoint, per point", best_of(gmm.gmm_grad_hand_pointwise, args, repeat), hand)
    row("objective alone (numba)", best_of(gmm.gmm_objective_njit, args, repeat), hand)
    row("srcgrad value_and_grad", best_of(vg, args, repeat), hand)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--gmm-n", default="1k", help="comma-separated: 1k,10k,10k-K25 ('' to skip)")
    a = p.parse_args(argv)
    rosenbrock(a.repeat)
    oscillator(a.repeat)
    for n in filter(None, a.gmm_n.split(",")):
        gmm_case(n, max(3, a.repeat // 10))


if __name__ == "__main__":
    main()
