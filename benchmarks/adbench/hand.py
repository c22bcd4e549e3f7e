"""ADBench hand-tracking residuals (simple and complicated) in NumPy, plus finite-difference Jacobians.

The model is a HandModel from data.py (README §4.3): linear-blend skinning of a
22-bone hand, posed by theta (26,), followed by a global rotation and translation.
"""

import numpy as np

N_THETA = 26


def angle_axis_to_rotation_matrix(aa):
    """Rodrigues rotation matrix of an angle-axis vector (identity below angle 1e-4)."""
    norm = np.sqrt(aa @ aa)
    if norm < 1e-4:
        return np.eye(3)
    x, y, z = aa / norm
    s = np.sin(norm)
    c = np.cos(norm)
    return np.array([
        [x * x + (1 - x * x) * c, x * y * (1 - c) - z * s, x * z * (1 - c) + y * s],
        [x * y * (1 - c) + z * s, y * y + (1 - y * y) * c, y * z * (1 - c) - x * s],
        [x * z * (1 - c) - y * s, z * y * (1 - c) + x * s, z * z + (1 - z * z) * c],
    ])


def bone_angles(theta, n_bones):
    """Per-bone (flexion, abduction) from theta: fingers' 2nd bone gets both, 3rd and 4th flexion."""
    angles = np.zeros((n_bones, 2))
    for finger in range(5):
        first = 2 + 4 * finger  # index of the finger's 2nd bone
        angles[first, 0] = theta[6 + 4 * finger]
        angles[first, 1] = theta[7 + 4 * finger]
        angles[first + 1, 0] = theta[8 + 4 * finger]
        angles[first + 2, 0] = theta[9 + 4 * finger]
    return angles


def euler_rotation(flex, abd):
    """Rz(abd) @ Rx(flex) (ADBench's Rz Ry Rx with zero twist)."""
    cx, sx = np.cos(flex), np.sin(flex)
    cz, sz = np.cos(abd), np.sin(abd)
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]])
    rz = np.array([[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]])
    return rz @ rx


def skinned_vertices(theta, model):
    """World positions (M, 3) of all model vertices for the pose theta."""
    n_bones = len(model.parents)
    angles = bone_angles(theta, n_bones)
    absolutes = np.empty((n_bones, 4, 4))
    transforms = np.empty((n_bones, 4, 4))
    for b in range(n_bones):
        local = np.eye(4)
        local[:3, :3] = euler_rotation(angles[b, 0], angles[b, 1])
        relative = model.base_relatives[b] @ local
        parent = model.parents[b]
        absolutes[b] = relative if parent < 0 else absolutes[parent] @ relative
        transforms[b] = absolutes[b] @ model.inverse_base_absolutes[b]
    rest = model.base_positions
    positions = np.zeros_like(rest)
    for b in range(n_bones):
        moved = rest @ transforms[b, :3, :3].T + transforms[b, :3, 3]
        positions += model.weights[b][:, None] * moved
    if model.is_mirrored:
        positions[:, 0] = -positions[:, 0]
    rotation = angle_axis_to_rotation_matrix(theta[0:3])
    return positions @ rotation.T + theta[3:6]


def hand_objective_simple(theta, model, correspondences, points):
    """Simple-HT residuals (3N,): target point minus its posed vertex."""
    verts = skinned_vertices(theta, model)
    return (points - verts[correspondences]).ravel()


def hand_objective_complicated(theta, us, model, correspondences, points):
    """Complicated-HT residuals (3N,): target minus barycentric point on its posed triangle."""
    verts = skinned_vertices(theta, model)
    tri = model.triangles[correspondences]
    u1 = us[:, 0:1]
    u2 = us[:, 1:2]
    surface = u1 * verts[tri[:, 0]] + u2 * verts[tri[:, 1]] + (1.0 - u1 - u2) * verts[tri[:, 2]]
    return (points - surface).ravel()


def hand_jacobian_fd(theta, model, correspondences, points, us=None, h=1e-6):
    """Central-difference Jacobian: (3N, 26) simple, or (3N, 28) complicated with 2 compressed u columns."""
    if us is None:
        def residual(th, u):
            return hand_objective_simple(th, model, correspondences, points)
        cols = []
    else:
        def residual(th, u):
            return hand_objective_complicated(th, u, model, correspondences, points)
        cols = []
        for c in range(2):
            # Each residual depends only on its own u, so one sweep per column gives the compressed block.
            up = us.copy()
            dn = us.copy()
            up[:, c] += h
            dn[:, c] -= h
            cols.append((residual(theta, up) - residual(theta, dn)) / (2.0 * h))
    for j in range(theta.size):
        up = theta.copy()
        dn = theta.copy()
        up[j] += h
        dn[j] -= h
        cols.append((residual(up, us) - residual(dn, us)) / (2.0 * h))
    return np.stack(cols, axis=1)
