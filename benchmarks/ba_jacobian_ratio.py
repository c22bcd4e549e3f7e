"""ADBench BA: Jacobian time ÷ objective time with srcgrad (published: hand-written C++ 7–8,
Tapenade 8.4–14, Autograd 58–72).  The Jacobian is built from per-observation vjp rows
(benchmarks/adbench/ba_srcgrad.py).  Objective: srcgrad's compiled primal of the same residual,
and the hand-written numba objective (benchmarks/adbench/ba.py) for reference.
Run: ``python -m benchmarks.ba_jacobian_ratio [data/ba/ba1_n49_m7776_p31843.txt]``.
"""

import sys
import time

from benchmarks.adbench import ba, ba_srcgrad, data


def best_of(fn, *args, repeat=7):
    fn(*args)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
    return min(times)


def main(path: str = "data/ba/ba1_n49_m7776_p31843.txt") -> dict:
    B = data.read_ba(path)
    t_jac = best_of(ba_srcgrad.ba_jacobian, B)
    t_obj = best_of(ba_srcgrad.ba_objective, B)
    t_hand = best_of(ba.ba_objective_njit, B.cams, B.X, B.w, B.obs, B.feats)
    result = {"path": path, "p": B.p, "jacobian_s": t_jac, "objective_s": t_obj,
              "objective_hand_njit_s": t_hand, "ratio": t_jac / t_obj,
              "ratio_vs_hand_objective": t_jac / t_hand}
    print(f"BA {path} (p={B.p}): J {t_jac * 1e3:.2f} ms, F {t_obj * 1e3:.2f} ms "
          f"(hand njit F {t_hand * 1e3:.2f} ms): J/F = {t_jac / t_obj:.1f} "
          f"(J / hand F = {t_jac / t_hand:.1f})")
    return result


if __name__ == "__main__":
    main(*sys.argv[1:])
