"""ADBench hand tracking: Jacobian time ÷ objective time with srcgrad (forward columns, 26 or 28
jvps through `srcgrad.jacobian`; benchmarks/adbench/hand_srcgrad.py).
Run: ``python -m benchmarks.hand_jacobian_ratio [data/hand/simple_small/hand1_t26_c100.txt]``.
"""

import sys
import time

from benchmarks.adbench import data, hand_srcgrad


def best_of(fn, *args, repeat=5):
    fn(*args)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
    return min(times)


def main(path: str = "data/hand/simple_small/hand1_t26_c100.txt") -> dict:
    complicated = "complicated" in path
    H = data.read_hand(path, complicated)
    jac = hand_srcgrad.hand_jacobian_complicated if complicated else hand_srcgrad.hand_jacobian_simple
    t_jac = best_of(jac, H)
    t_obj = best_of(hand_srcgrad.hand_objective_simple, H) if not complicated else float("nan")
    print(f"hand {path}: J {t_jac * 1e3:.2f} ms, F {t_obj * 1e3:.3f} ms, J/F = {t_jac / t_obj:.1f}")
    return {"path": path, "jacobian_s": t_jac, "objective_s": t_obj, "ratio": t_jac / t_obj}


if __name__ == "__main__":
    main(*sys.argv[1:])
