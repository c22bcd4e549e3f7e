"""A value recomputed in a mirror branch that reads a value recomputed for an enclosing loop.

`branch_recompute.py` re-runs ``v = a * sc`` at the top of the reversed branch; ``sc`` is
assigned per outer iteration and recomputed (renamed ``sc_r``) at the top of the reversed outer
body.  The branch's copy read the forward sweep's last ``sc`` instead (a wrong gradient, found
by fuzzing the linear-map hoisting on 2026-11-23; pre-existing).
"""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad


def stale_scale(m, lmat, x):
    n = x.shape[0]
    total = 0.0
    for i in range(n):
        sc = 1.0 + 0.1 * i
        for k in range(2):
            if k > 0:
                v = lmat[0, 0] * sc * m[0, 0]
                total += v * v
    return total


def stale_scale_else(w, x):
    n = x.shape[0]
    total = 0.0
    for i in range(n):
        sc = x[i] * x[i] + 0.5
        for k in range(3):
            if w[k] > 0.0:
                v = w[k] * sc
                total += np.sin(v)
            else:
                u = sc - w[k]
                total += u * u * w[k]
    return total


@pytest.mark.parametrize("backend", ["python", "cpu"])
def test_known_answer(backend):
    m, lmat, x = np.array([[0.7]]), np.array([[1.3]]), np.zeros((3, 1))
    gm, gl = sg.grad(stale_scale, argnums=(0, 1), backend=backend)(m, lmat, x)
    # total = Σ_i (l m sc_i)^2: d/dm = 2 l² m Σ sc², d/dl = 2 l m² Σ sc², sc = 1, 1.1, 1.2
    s2 = 1.0 + 1.1**2 + 1.2**2
    np.testing.assert_allclose(gm, [[2 * 1.3**2 * 0.7 * s2]], rtol=1e-12)
    np.testing.assert_allclose(gl, [[2 * 1.3 * 0.7**2 * s2]], rtol=1e-12)


@pytest.mark.parametrize("backend", ["python", "cpu"])
def test_both_branches(backend):
    rng = np.random.default_rng(2)
    w, x = np.array([0.8, -0.4, 0.3]), rng.standard_normal(5)
    check_grad(stale_scale_else, w, x, argnums=(0, 1), backend=backend, directions=4)
