"""ADBench bundle-adjustment residuals (NumPy, loops/numba) and a finite-difference Jacobian.

Camera vector: rotation (angle-axis, 3), centre (3), f, u0, v0, k1, k2 (README §4.2).
Residuals: reproj_err (p, 2) = w_i * (proj - feature_i) and w_err (p,) = 1 - w_i**2.
"""

import numba
import numpy as np

N_CAM_PARAMS = 11


def rodrigues_rotate_point(rot, pt):
    """Rotate a 3-vector by an angle-axis vector (first-order formula at angle 0)."""
    sqtheta = rot @ rot
    if sqtheta == 0.0:
        return pt + np.cross(rot, pt)
    theta = np.sqrt(sqtheta)
    costheta = np.cos(theta)
    sintheta = np.sin(theta)
    w = rot / theta
    return pt * costheta + np.cross(w, pt) * sintheta + w * ((w @ pt) * (1.0 - costheta))


def ba_project(cam, X):
    """Project one 3-D point with one 11-parameter camera (rotation, division, distortion)."""
    Xcam = rodrigues_rotate_point(cam[0:3], X - cam[3:6])
    p = Xcam[0:2] / Xcam[2]
    rsq = p @ p
    p = p * (1.0 + cam[9] * rsq + cam[10] * rsq * rsq)
    return p * cam[6] + cam[7:9]


def ba_observation_residual(cam, X, w, feat):
    """Reprojection residual (2,) of one observation: w * (proj - feat)."""
    return w * (ba_project(cam, X) - feat)


def ba_objective(cams, X, w, obs, feats):
    """All residuals, vectorised over observations: returns (reproj_err (p, 2), w_err (p,))."""
    cam = cams[obs[:, 0]]
    pt = X[obs[:, 1]] - cam[:, 3:6]
    rot = cam[:, 0:3]
    sqtheta = np.sum(rot * rot, axis=1)
    nonzero = sqtheta != 0.0
    theta = np.sqrt(sqtheta)
    safe = np.where(nonzero, theta, 1.0)
    axis = rot / safe[:, None]
    cos_t = np.cos(theta)[:, None]
    sin_t = np.sin(theta)[:, None]
    dot = np.sum(axis * pt, axis=1, keepdims=True)
    rotated = pt * cos_t + np.cross(axis, pt) * sin_t + axis * dot * (1.0 - cos_t)
    rotated = np.where(nonzero[:, None], rotated, pt + np.cross(rot, pt))
    proj = rotated[:, 0:2] / rotated[:, 2:3]
    rsq = np.sum(proj * proj, axis=1, keepdims=True)
    proj = proj * (1.0 + cam[:, 9:10] * rsq + cam[:, 10:11] * rsq * rsq)
    proj = proj * cam[:, 6:7] + cam[:, 7:9]
    reproj_err = w[:, None] * (proj - feats)
    return reproj_err, 1.0 - w * w


def ba_objective_loops(cams, X, w, obs, feats):
    """All residuals with explicit scalar loops (numba-compatible): (reproj_err (p, 2), w_err (p,))."""
    p = obs.shape[0]
    reproj_err = np.zeros((p, 2))
    w_err = np.zeros(p)
    for i in range(p):
        ic = obs[i, 0]
        ip = obs[i, 1]
        x0 = X[ip, 0] - cams[ic, 3]
        x1 = X[ip, 1] - cams[ic, 4]
        x2 = X[ip, 2] - cams[ic, 5]
        r0 = cams[ic, 0]
        r1 = cams[ic, 1]
        r2 = cams[ic, 2]
        sqtheta = r0 * r0 + r1 * r1 + r2 * r2
        if sqtheta != 0.0:
            theta = np.sqrt(sqtheta)
            c = np.cos(theta)
            s = np.sin(theta)
            a0 = r0 / theta
            a1 = r1 / theta
            a2 = r2 / theta
            tmp = (a0 * x0 + a1 * x1 + a2 * x2) * (1.0 - c)
            y0 = x0 * c + (a1 * x2 - a2 * x1) * s + a0 * tmp
            y1 = x1 * c + (a2 * x0 - a0 * x2) * s + a1 * tmp
            y2 = x2 * c + (a0 * x1 - a1 * x0) * s + a2 * tmp
        else:
            y0 = x0 + (r1 * x2 - r2 * x1)
            y1 = x1 + (r2 * x0 - r0 * x2)
            y2 = x2 + (r0 * x1 - r1 * x0)
        u0 = y0 / y2
        u1 = y1 / y2
        rsq = u0 * u0 + u1 * u1
        distortion = 1.0 + cams[ic, 9] * rsq + cams[ic, 10] * rsq * rsq
        reproj_err[i, 0] = w[i] * (u0 * distortion * cams[ic, 6] + cams[ic, 7] - feats[i, 0])
        reproj_err[i, 1] = w[i] * (u1 * distortion * cams[ic, 6] + cams[ic, 8] - feats[i, 1])
        w_err[i] = 1.0 - w[i] * w[i]
    return reproj_err, w_err


ba_objective_njit = numba.njit(cache=False)(ba_objective_loops)


def ba_observation_jacobian_fd(cam, X, w, feat, h=1e-6):
    """Central-difference 2 x 15 block of one observation: columns camera (11), point (3), weight."""
    params = np.concatenate([cam, X, [w]])
    jac = np.empty((2, 15))
    for j in range(15):
        hj = h * max(1.0, abs(params[j]))
        up = params.copy()
        dn = params.copy()
        up[j] += hj
        dn[j] -= hj
        r_up = ba_observation_residual(up[:11], up[11:14], up[14], feat)
        r_dn = ba_observation_residual(dn[:11], dn[11:14], dn[14], feat)
        jac[:, j] = (r_up - r_dn) / (2.0 * hj)
    return jac


def ba_jacobian_fd(cams, X, w, obs, feats, h=1e-6):
    """Finite-difference CSR Jacobian in ADBench layout: (indptr, indices, values, shape)."""
    n, m, p = cams.shape[0], X.shape[0], obs.shape[0]
    n_cols = N_CAM_PARAMS * n + 3 * m + p
    indptr = np.concatenate([np.arange(0, 30 * p + 1, 15), 30 * p + np.arange(1, p + 1)])
    indices = np.empty(31 * p, dtype=np.int64)
    values = np.empty(31 * p)
    for i in range(p):
        ic, ip = obs[i]
        block = ba_observation_jacobian_fd(cams[ic], X[ip], w[i], feats[i], h)
        cols = np.concatenate([
            N_CAM_PARAMS * ic + np.arange(N_CAM_PARAMS),
            N_CAM_PARAMS * n + 3 * ip + np.arange(3),
            [N_CAM_PARAMS * n + 3 * m + i],
        ])
        indices[30 * i:30 * i + 15] = cols
        indices[30 * i + 15:30 * i + 30] = cols
        values[30 * i:30 * i + 30] = block.ravel()
    indices[30 * p:] = N_CAM_PARAMS * n + 3 * m + np.arange(p)
    hw = h * np.maximum(1.0, np.abs(w))
    values[30 * p:] = ((1.0 - (w + hw) ** 2) - (1.0 - (w - hw) ** 2)) / (2.0 * hw)
    return indptr, indices, values, (3 * p, n_cols)
