"""ADBench bundle adjustment with srcgrad: the per-observation residual written as a user would,
its 2×15 Jacobian block by reverse mode (two vjp sweeps, one per residual row), scattered into the
CSR layout of the reference (README §4.2): 2p reprojection rows with 15 non-zeros each (11 camera
columns, 3 point columns, the weight column), then p weight rows with one non-zero each.

The driver is an ``@njit`` loop over observations that calls srcgrad's compiled pullback (a numba
dispatcher, so it inlines into the loop).  `ba_jacobian(B)` returns (indptr, indices, values,
shape); `ba_objective(B)` the residuals, for the Jacobian ÷ objective ratio.
"""

import numba
import numpy as np

import srcgrad as sg


def rotate(r0, r1, r2, x0, x1, x2):
    """Rodrigues rotation of (x0, x1, x2) by the angle-axis vector (r0, r1, r2)."""
    sqtheta = r0 * r0 + r1 * r1 + r2 * r2
    if sqtheta != 0.0:
        theta = np.sqrt(sqtheta)
        c = np.cos(theta)
        s = np.sin(theta)
        v0 = r0 / theta
        v1 = r1 / theta
        v2 = r2 / theta
        d = (v0 * x0 + v1 * x1 + v2 * x2) * (1.0 - c)
        y0 = x0 * c + (v1 * x2 - v2 * x1) * s + v0 * d
        y1 = x1 * c + (v2 * x0 - v0 * x2) * s + v1 * d
        y2 = x2 * c + (v0 * x1 - v1 * x0) * s + v2 * d
    else:
        y0 = x0 + r1 * x2 - r2 * x1
        y1 = x1 + r2 * x0 - r0 * x2
        y2 = x2 + r0 * x1 - r1 * x0
    return y0, y1, y2


def reprojection_residual(cam, X, w, feat):
    """w * (proj(cam, X) - feat): the two residuals of one observation."""
    y0, y1, y2 = rotate(cam[0], cam[1], cam[2], X[0] - cam[3], X[1] - cam[4], X[2] - cam[5])
    u0 = y0 / y2
    u1 = y1 / y2
    rsq = u0 * u0 + u1 * u1
    distortion = 1.0 + cam[9] * rsq + cam[10] * rsq * rsq
    err = np.zeros(2)
    err[0] = w * (cam[6] * u0 * distortion + cam[7] - feat[0])
    err[1] = w * (cam[6] * u1 * distortion + cam[8] - feat[1])
    return err


def weight_residual(w):
    return 1.0 - w * w


# Compiled building blocks (numba dispatchers, callable from @njit code).
_obs_pullback = sg.vjp_function(reprojection_residual, argnums=(0, 1, 2))
_obs_value = sg.jit(reprojection_residual)
_weight_grad = sg.grad(weight_residual)


@numba.njit
def _jacobian_values(cams, X, w, obs, feats, pullback, dweight):
    p = obs.shape[0]
    n, m = cams.shape[0], X.shape[0]
    nnz = 31 * p
    values = np.empty(nnz)
    indices = np.empty(nnz, dtype=np.int64)
    indptr = np.empty(3 * p + 1, dtype=np.int64)
    ct = np.zeros(2)
    wcol0 = 11 * n + 3 * m
    for i in range(p):
        ic, ip = obs[i, 0], obs[i, 1]
        cam, pt = cams[ic], X[ip]
        for r in range(2):
            ct[0] = 1.0 - r
            ct[1] = 1.0 * r
            _, grads = pullback(cam, pt, w[i], feats[i], ct)
            gcam, gpt, gw = grads
            row = 2 * i + r
            base = 15 * row
            indptr[row] = base
            for j in range(11):
                values[base + j] = gcam[j]
                indices[base + j] = 11 * ic + j
            for j in range(3):
                values[base + 11 + j] = gpt[j]
                indices[base + 11 + j] = 11 * n + 3 * ip + j
            values[base + 14] = gw
            indices[base + 14] = wcol0 + i
    for i in range(p):
        k = 30 * p + i
        indptr[2 * p + i] = k
        values[k] = dweight(w[i])
        indices[k] = wcol0 + i
    indptr[3 * p] = nnz
    return indptr, indices, values


@numba.njit
def _objective(cams, X, w, obs, feats, value):
    p = obs.shape[0]
    reproj = np.empty((p, 2))
    werr = np.empty(p)
    for i in range(p):
        reproj[i] = value(cams[obs[i, 0]], X[obs[i, 1]], w[i], feats[i])
        werr[i] = 1.0 - w[i] * w[i]
    return reproj, werr


def ba_jacobian(B):
    """(indptr, indices, values, shape) of the BA Jacobian in ADBench's CSR layout."""
    indptr, indices, values = _jacobian_values(B.cams, B.X, B.w, B.obs, B.feats, _obs_pullback,
                                               _weight_grad)
    return indptr, indices, values, (3 * B.p, 11 * B.n + 3 * B.m + B.p)


def ba_objective(B):
    """The residuals (reproj_err (p, 2), w_err (p,)) through srcgrad's compiled primal."""
    return _objective(B.cams, B.X, B.w, B.obs, B.feats, _obs_value)
