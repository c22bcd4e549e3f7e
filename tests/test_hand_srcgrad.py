"""ADBench hand tracking, simple variant, through srcgrad.

`hand.hand_objective_simple(theta, model, ...)` takes a `HandModel` object; srcgrad accepts
only arrays and scalars as arguments (no attribute access on objects), so `skinned_arrays`
below is `hand.skinned_vertices` with each ``model.<field>`` passed as an argument.  It calls
hand.py's own helpers (bone_angles, euler_rotation, angle_axis_to_rotation_matrix) unchanged.
The Jacobian (rows from vjp pullbacks) matches reference/hand_test_simple_expected.txt to 1e-8;
the test runs the generated code on srcgrad's Python backend to keep the suite fast.
"""

import os

import numpy as np
import pytest

import srcgrad as sg
from benchmarks.adbench import data, hand

if data.adbench_dir() is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"ADBench data folder missing under CI: {data.default_adbench_path()}")
    pytest.skip(f"ADBench data folder not found at {data.default_adbench_path()}",
                allow_module_level=True)


def skinned_arrays(theta, parents, base_relatives, inverse_base_absolutes, rest, weights,
                   is_mirrored):
    n_bones = parents.shape[0]
    angles = hand.bone_angles(theta, n_bones)
    absolutes = np.empty((n_bones, 4, 4))
    transforms = np.empty((n_bones, 4, 4))
    for b in range(n_bones):
        local = np.eye(4)
        local[:3, :3] = hand.euler_rotation(angles[b, 0], angles[b, 1])
        relative = base_relatives[b] @ local
        parent = parents[b]
        absolutes[b] = relative if parent < 0 else absolutes[parent] @ relative
        transforms[b] = absolutes[b] @ inverse_base_absolutes[b]
    positions = np.zeros_like(rest)
    for b in range(n_bones):
        moved = rest @ transforms[b, :3, :3].T + transforms[b, :3, 3]
        positions += weights[b][:, None] * moved
    if is_mirrored:
        positions[:, 0] = -positions[:, 0]
    rotation = hand.angle_axis_to_rotation_matrix(theta[0:3])
    return positions @ rotation.T + theta[3:6]


def residuals(theta, parents, base_relatives, inverse_base_absolutes, rest, weights,
              is_mirrored, correspondences, points):
    verts = skinned_arrays(theta, parents, base_relatives, inverse_base_absolutes, rest,
                           weights, is_mirrored)
    return (points - verts[correspondences]).ravel()


def _args(h):
    m = h.model
    return (h.theta, np.asarray(m.parents), m.base_relatives, m.inverse_base_absolutes,
            m.base_positions, np.asarray(m.weights), bool(m.is_mirrored),
            np.asarray(h.correspondences), h.points)


def test_hand_simple_jacobian_matches_reference():
    h = data.read_hand("data/hand/test.txt", complicated=False)
    ref = data.read_hand_reference(complicated=False)
    args = _args(h)
    # the Python backend runs the same generated source without numba's ~1-2 min compile of
    # this large adjoint (benchmarks/loops_vs_hand.py is where the compiled version runs)
    out, pullback = sg.vjp(residuals, *args, argnums=0, backend="python")
    np.testing.assert_allclose(out, ref["objective"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(out, hand.hand_objective_simple(h.theta, h.model,
                                                               h.correspondences, h.points),
                               rtol=1e-12, atol=1e-12)
    jac = np.array([pullback(np.eye(out.shape[0])[r])[0] for r in range(out.shape[0])])
    np.testing.assert_allclose(jac, ref["jacobian"], rtol=1e-8, atol=1e-8)
