"""A value recomputed in a mirror branch that reads a value recomputed for an enclosing loop.

`branch_recompute.py` re-runs ``v = a * sc`` at the top of the reversed branch; ``sc`` is
assigned per outer iteration and recomputed (renamed ``sc_r``) at the top of the reversed outer
body.  The branch's copy read the forward sweep's last ``sc`` instead (a wrong gradient, found
by fuzzing the linear-map hoisting on 2026-11-23; pre-existing).  Moving the branch
recomputations first broke the opposite nesting (a loop in a branch: the loop's recomputation
read the branch value's old name); now every recomputation is inserted before any renaming.
Also here: `local_cse` read ``x[i]`` from ``sc`` in ``sc = sc * 0.5 + x[i]`` after ``sc = x[i]``
(an equation reading its own output, whose adjoint dropped a term).
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


def loop_in_branch(w, x):
    total = 0.0
    for k in range(4):
        if k > 0:
            t = x[0] + w[k]
            for j in range(2):
                v = w[j] * t
                total += v * v
    return total


def branch_in_loop_in_branch(w, x):
    total = 0.0
    for k in range(3):
        if k != 1:
            t = x[1] + w[k]
            for j in range(2):
                if x[1] * w[j] > 0.1:
                    total += w[j]
                else:
                    total += w[j] * t * t
            total += x[0] * w[k] * w[k]
    return total


def reread_after_rebind(w, x):
    total = 0.0
    for i in range(x.shape[0]):
        sc = x[i]
        sc = sc * 0.5 + x[i]
        total += sc * w[0]
    return total


@pytest.mark.parametrize("backend", ["python", "cpu"])
@pytest.mark.parametrize("f", [loop_in_branch, branch_in_loop_in_branch, reread_after_rebind],
                         ids=lambda f: f.__name__)
def test_found_by_fuzzing(f, backend):
    w = np.array([0.9533131223269813, 0.6616456565884643, -0.6595027440225795, -0.4796009162130589])
    x = np.array([1.1206603361887857, -1.4842040863032757, 0.9636852551482988, 0.8912082862561386])
    check_grad(f, w, x, argnums=(0, 1), backend=backend, directions=4)


def test_reread_after_rebind_known_answer():
    w, x = np.array([2.0]), np.array([1.0, -3.0])
    gw, gx = sg.grad(reread_after_rebind, argnums=(0, 1), backend="python")(w, x)
    np.testing.assert_allclose(gw, [1.5 * (1.0 - 3.0)])  # total = 1.5 * w0 * Σ x
    np.testing.assert_allclose(gx, [3.0, 3.0])


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
