"""ADBench GMM (the loop form, benchmarks/adbench/gmm.py) differentiated by srcgrad.

The objective and gradient on data/gmm/test.txt match the ADBench reference to 1e-8; on the
1k (d=10, K=25) and 10k (d=10, K=5; the folder has no K=25 file at 10k) inputs the gradient
agrees with central differences along random directions.  Skipped when the ADBench data folder is absent,
except under CI=true, where a missing folder is a failure.
"""

import os

import numpy as np
import pytest

import srcgrad as sg
from benchmarks.adbench import data, gmm

if data.adbench_dir() is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"ADBench data folder missing under CI: {data.default_adbench_path()} "
                           f"(set {data.ENV_VAR})")
    pytest.skip(f"ADBench data folder not found at {data.default_adbench_path()}; set "
                f"{data.ENV_VAR} to run the GMM tests", allow_module_level=True)

VG = sg.value_and_grad(gmm.gmm_objective_loops, argnums=(0, 1, 2))


def _args(g):
    return (g.alphas, g.means, g.icf, g.x, g.wishart_gamma, g.wishart_m)


def test_gmm_reference_objective_and_gradient():
    g = data.read_gmm("data/gmm/test.txt")
    ref = data.read_gmm_reference()
    value, (da, dm, di) = VG(*_args(g))
    assert abs(value - ref["objective"]) <= 1e-8 * max(1.0, abs(ref["objective"]))
    np.testing.assert_allclose(gmm.gmm_flat_gradient(da, dm, di), ref["gradient"],
                               rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("path", ["data/gmm/1k/gmm_d10_K25.txt", "data/gmm/10k/gmm_d10_K5.txt"])
def test_gmm_large_against_fd(path):
    g = data.read_gmm(path)
    args = _args(g)
    value, grads = VG(*args)
    f = gmm.gmm_objective_njit
    np.testing.assert_allclose(value, f(*args), rtol=1e-12)
    rng = np.random.default_rng(3)
    for _ in range(2):
        dirs = [rng.standard_normal(a.shape) for a in args[:3]]
        eps = 1e-6

        def at(sign, dirs=dirs, eps=eps):
            moved = [a + sign * eps * d for a, d in zip(args[:3], dirs)]
            return f(*moved, *args[3:])

        fd = (at(1.0) - at(-1.0)) / (2 * eps)
        ad = sum(float(np.sum(gr * d)) for gr, d in zip(grads, dirs))
        assert abs(fd - ad) <= 1e-5 * max(abs(fd), abs(ad), 1.0), (fd, ad)
