"""Hessian-vector product time ÷ gradient time (classic bound: a small constant, about 2–4).

Rosenbrock written as a ``for`` loop (benchmarks/workloads/rosenbrock.py), n = 10⁴: ``sg.hvp``
(forward mode over the compiled reverse sweep, one fused function) against ``sg.grad``.
Run: ``python -m benchmarks.hvp_ratio [n]``.
"""

import sys
import time

import numpy as np

import srcgrad as sg
from benchmarks.workloads.rosenbrock import rosenbrock


def best_of(fn, *args, repeat=7, number=50):
    fn(*args)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn(*args)
        times.append((time.perf_counter() - t) / number)
    return min(times)


def main(n: int = 10_000) -> dict:
    rng = np.random.default_rng(0)
    x, v = rng.standard_normal(n), rng.standard_normal(n)
    grad, hvp = sg.grad(rosenbrock), sg.hvp(rosenbrock)
    t_grad, t_hvp = best_of(grad, x), best_of(hvp, x, v)
    result = {"n": n, "grad_s": t_grad, "hvp_s": t_hvp, "ratio": t_hvp / t_grad}
    print(f"rosenbrock n={n}: grad {t_grad * 1e6:.1f} us, hvp {t_hvp * 1e6:.1f} us, "
          f"hvp/grad = {t_hvp / t_grad:.2f} (classic bound 2-4)")
    return result


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
