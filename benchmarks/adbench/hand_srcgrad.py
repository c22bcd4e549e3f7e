"""ADBench hand tracking with srcgrad: the residuals written as a user would (plain loops and
small matrix products over arrays), Jacobians by `srcgrad.jacobian` (forward columns: 26 or 28
jvps, fewer sweeps than the 3N reverse rows once N > 9).

`hand_jacobian_simple(H)` -> (3N, 26); `hand_jacobian_complicated(H)` -> (3N, 28) with the two
compressed u columns first (each residual depends only on its own u), as in the reference.
"""

import numpy as np

import srcgrad as sg


def rotation_from_angle_axis(aa0, aa1, aa2):
    rot = np.eye(3)
    norm = np.sqrt(aa0 * aa0 + aa1 * aa1 + aa2 * aa2)
    if norm >= 1e-4:
        x = aa0 / norm
        y = aa1 / norm
        z = aa2 / norm
        s = np.sin(norm)
        c = np.cos(norm)
        rot[0, 0] = x * x + (1.0 - x * x) * c
        rot[0, 1] = x * y * (1.0 - c) - z * s
        rot[0, 2] = x * z * (1.0 - c) + y * s
        rot[1, 0] = x * y * (1.0 - c) + z * s
        rot[1, 1] = y * y + (1.0 - y * y) * c
        rot[1, 2] = y * z * (1.0 - c) - x * s
        rot[2, 0] = x * z * (1.0 - c) - y * s
        rot[2, 1] = z * y * (1.0 - c) + x * s
        rot[2, 2] = z * z + (1.0 - z * z) * c
    return rot


def skinned_vertices(theta, parents, base_relatives, inverse_base_absolutes, base_positions,
                     weights, mirrored):
    n_bones = parents.shape[0]
    flex = np.zeros(n_bones)
    abd = np.zeros(n_bones)
    for finger in range(5):
        first = 2 + 4 * finger
        flex[first] = theta[6 + 4 * finger]
        abd[first] = theta[7 + 4 * finger]
        flex[first + 1] = theta[8 + 4 * finger]
        flex[first + 2] = theta[9 + 4 * finger]
    absolutes = np.zeros((n_bones, 4, 4))
    positions = np.zeros((base_positions.shape[0], 3))
    for b in range(n_bones):
        cx = np.cos(flex[b])
        sx = np.sin(flex[b])
        cz = np.cos(abd[b])
        sz = np.sin(abd[b])
        local = np.eye(4)
        # Rz(abd) @ Rx(flex)
        local[0, 0] = cz
        local[0, 1] = -sz * cx
        local[0, 2] = sz * sx
        local[1, 0] = sz
        local[1, 1] = cz * cx
        local[1, 2] = -cz * sx
        local[2, 1] = sx
        local[2, 2] = cx
        relative = np.dot(base_relatives[b], local)
        parent = parents[b]
        if parent < 0:
            absolute = relative
        else:
            absolute = np.dot(absolutes[parent], relative)
        absolutes[b] = absolute
        transform = np.dot(absolute, inverse_base_absolutes[b])
        moved = np.dot(base_positions, transform[:3, :3].T) + transform[:3, 3]
        positions = positions + weights[b][:, None] * moved
    if mirrored:
        positions[:, 0] = -positions[:, 0]
    rot = rotation_from_angle_axis(theta[0], theta[1], theta[2])
    return np.dot(positions, rot.T) + theta[3:6]


def residual_simple(theta, parents, base_relatives, inverse_base_absolutes, base_positions,
                    weights, mirrored, correspondences, points):
    verts = skinned_vertices(theta, parents, base_relatives, inverse_base_absolutes,
                             base_positions, weights, mirrored)
    n = correspondences.shape[0]
    err = np.zeros(3 * n)
    for i in range(n):
        for k in range(3):
            err[3 * i + k] = points[i, k] - verts[correspondences[i], k]
    return err


def residual_complicated(theta, us, parents, base_relatives, inverse_base_absolutes,
                         base_positions, weights, mirrored, triangles, correspondences, points):
    verts = skinned_vertices(theta, parents, base_relatives, inverse_base_absolutes,
                             base_positions, weights, mirrored)
    n = correspondences.shape[0]
    err = np.zeros(3 * n)
    for i in range(n):
        t = correspondences[i]
        u1 = us[i, 0]
        u2 = us[i, 1]
        for k in range(3):
            surface = u1 * verts[triangles[t, 0], k] + u2 * verts[triangles[t, 1], k] + \
                (1.0 - u1 - u2) * verts[triangles[t, 2], k]
            err[3 * i + k] = points[i, k] - surface
    return err


def _model_args(model):
    return (model.parents, model.base_relatives, model.inverse_base_absolutes,
            model.base_positions, model.weights, bool(model.is_mirrored))


def hand_objective_simple(H):
    return sg.jit(residual_simple)(H.theta, *_model_args(H.model), H.correspondences, H.points)


def hand_jacobian_simple(H, mode="fwd"):
    jac = sg.jacobian(residual_simple, argnums=0, mode=mode)
    return jac(H.theta, *_model_args(H.model), H.correspondences, H.points)


def hand_jacobian_complicated(H, mode="fwd"):
    jac = sg.jacobian(residual_complicated, argnums=(1, 0), mode=mode)
    args = (H.theta, H.us, *_model_args(H.model), H.model.triangles, H.correspondences, H.points)
    j_us, j_theta = jac(*args)
    n = H.us.shape[0]
    # each residual triple depends only on its own u: compress the (3N, N, 2) block to (3N, 2)
    rows = np.arange(3 * n)
    compressed = j_us[rows, rows // 3, :]
    return np.concatenate([compressed, j_theta], axis=1)
