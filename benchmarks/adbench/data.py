"""Locate the ADBench data folder and read its inputs and reference outputs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENV_VAR = "SRCGRAD_ADBENCH"
REPO_ROOT = Path(__file__).resolve().parents[2]


def default_adbench_path() -> Path:
    """Return where the data is looked for: $SRCGRAD_ADBENCH or <repo>/../shared/adbench."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    return (REPO_ROOT / ".." / "shared" / "adbench").resolve()


def adbench_dir() -> Path | None:
    """Return the ADBench data folder, or None when it does not exist."""
    path = default_adbench_path()
    return path if path.is_dir() else None


def require_adbench() -> Path:
    """Return the ADBench data folder or raise FileNotFoundError naming SRCGRAD_ADBENCH."""
    path = adbench_dir()
    if path is None:
        raise FileNotFoundError(
            f"ADBench data not found at {default_adbench_path()}; "
            f"set the environment variable {ENV_VAR} to the folder holding data/ and reference/"
        )
    return path


def _resolve(path) -> Path:
    """Resolve a path; relative paths are taken relative to the ADBench folder."""
    path = Path(path)
    if not path.is_absolute() and not path.exists():
        path = require_adbench() / path
    return path


def _tokens(path) -> list[str]:
    """Split a whitespace-separated text file into tokens."""
    return _resolve(path).read_text().split()


# ----------------------------------------------------------------------------- GMM


@dataclass
class GMMInput:
    """A GMM instance: parameters (alphas, means, icf), points x and Wishart prior."""

    d: int
    k: int
    n: int
    alphas: np.ndarray  # (K,)
    means: np.ndarray  # (K, d)
    icf: np.ndarray  # (K, d(d+1)/2): d log-diagonal entries, then lower part column by column
    x: np.ndarray  # (n, d), or fewer rows when replicate_point=False on a 2.5M file
    wishart_gamma: float
    wishart_m: int


def read_gmm(path, replicate_point: bool = True) -> GMMInput:
    """Read a GMM file; files storing fewer than n points (2.5M) are replicated when asked."""
    tok = _tokens(path)
    d, k, n = (int(t) for t in tok[:3])
    icf_sz = d * (d + 1) // 2
    pos = 3
    alphas = np.array(tok[pos:pos + k], dtype=np.float64)
    pos += k
    means = np.array(tok[pos:pos + k * d], dtype=np.float64).reshape(k, d)
    pos += k * d
    icf = np.array(tok[pos:pos + k * icf_sz], dtype=np.float64).reshape(k, icf_sz)
    pos += k * icf_sz
    n_stored = (len(tok) - pos - 2) // d
    x = np.array(tok[pos:pos + n_stored * d], dtype=np.float64).reshape(n_stored, d)
    pos += n_stored * d
    gamma, m = float(tok[pos]), int(tok[pos + 1])
    if n_stored < n and replicate_point:
        x = np.ascontiguousarray(np.broadcast_to(x[0], (n, d)))
    return GMMInput(d, k, n, alphas, means, icf, x, gamma, m)


# ---------------------------------------------------------------------------- LSTM


@dataclass
class LSTMInput:
    """An LSTM instance: parameters, initial state and bit sequence."""

    layers: int
    c: int
    b: int
    main_params: np.ndarray  # (2l, 4b)
    extra_params: np.ndarray  # (3, b)
    state: np.ndarray  # (2l, b)
    sequence: np.ndarray  # (c, b), 0/1 as float64


def read_lstm(path) -> LSTMInput:
    """Read an LSTM file (l c b, main params, extra params, state, sequence)."""
    tok = _tokens(path)
    layers, c, b = (int(t) for t in tok[:3])
    vals = np.array(tok[3:], dtype=np.float64)
    sizes = [2 * layers * 4 * b, 3 * b, 2 * layers * b, c * b]
    if vals.size != sum(sizes):
        raise ValueError(f"{path}: expected {sum(sizes)} numbers after the header, got {vals.size}")
    cut = np.cumsum(sizes)[:-1]
    main, extra, state, seq = np.split(vals, cut)
    return LSTMInput(
        layers, c, b,
        main.reshape(2 * layers, 4 * b), extra.reshape(3, b),
        state.reshape(2 * layers, b), seq.reshape(c, b),
    )


# ------------------------------------------------------------------------------ BA


@dataclass
class BAInput:
    """A bundle-adjustment instance, expanded to n cameras, m points, p observations."""

    n: int
    m: int
    p: int
    cams: np.ndarray  # (n, 11): rotation(3), centre(3), f, u0, v0, k1, k2
    X: np.ndarray  # (m, 3)
    w: np.ndarray  # (p,)
    obs: np.ndarray  # (p, 2) int64: camera index, point index
    feats: np.ndarray  # (p, 2)


def read_ba(path) -> BAInput:
    """Read a BA file and expand it as the ADBench harness does (obs i: cam i%n, pt i%m)."""
    tok = _tokens(path)
    n, m, p = (int(t) for t in tok[:3])
    vals = np.array(tok[3:3 + 17], dtype=np.float64)
    cam, pt, w, feat = vals[:11], vals[11:14], vals[14], vals[15:17]
    idx = np.arange(p, dtype=np.int64)
    return BAInput(
        n, m, p,
        cams=np.tile(cam, (n, 1)), X=np.tile(pt, (m, 1)), w=np.full(p, w),
        obs=np.stack([idx % n, idx % m], axis=1), feats=np.tile(feat, (p, 1)),
    )


# ---------------------------------------------------------------------------- Hand


@dataclass
class HandModel:
    """A rigged hand: bone hierarchy and transforms, skinned vertices, triangles."""

    bone_names: list[str]
    parents: np.ndarray  # (B,) int64, -1 for the root
    base_relatives: np.ndarray  # (B, 4, 4)
    inverse_base_absolutes: np.ndarray  # (B, 4, 4)
    base_positions: np.ndarray  # (M, 3) rest positions
    weights: np.ndarray  # (B, M) skinning weights
    triangles: np.ndarray  # (T, 3) int64
    is_mirrored: bool = False


@dataclass
class HandInput:
    """A hand-tracking instance: model, theta, correspondences, targets, (complicated) us."""

    model: HandModel
    theta: np.ndarray  # (26,)
    correspondences: np.ndarray  # (N,) int64: vertex (simple) or triangle (complicated) index
    points: np.ndarray  # (N, 3) target points
    us: np.ndarray | None  # (N, 2) barycentric coordinates, complicated only


def _colon_rows(path: Path) -> list[list[str]]:
    """Read a ':'-separated file into a list of records."""
    return [line.split(":") for line in path.read_text().splitlines() if line.strip()]


def read_hand_model(model_dir) -> HandModel:
    """Read bones.txt, vertices.txt and triangles.txt of a hand model folder."""
    model_dir = _resolve(model_dir)
    bones = _colon_rows(model_dir / "bones.txt")
    names = [r[0] for r in bones]
    parents = np.array([int(r[1]) for r in bones], dtype=np.int64)
    mats = np.array([[float(v) for v in r[2:34]] for r in bones], dtype=np.float64)
    base_rel = mats[:, :16].reshape(-1, 4, 4)
    inv_base_abs = mats[:, 16:].reshape(-1, 4, 4)
    verts = _colon_rows(model_dir / "vertices.txt")
    positions = np.array([[float(v) for v in r[:3]] for r in verts], dtype=np.float64)
    weights = np.zeros((len(bones), len(verts)), dtype=np.float64)
    for iv, r in enumerate(verts):
        count = int(r[8])
        for j in range(count):
            weights[int(r[9 + 2 * j]), iv] = float(r[10 + 2 * j])
    triangles = np.array(
        [[int(v) for v in r] for r in _colon_rows(model_dir / "triangles.txt")], dtype=np.int64
    )
    return HandModel(names, parents, base_rel, inv_base_abs, positions, weights, triangles)


def read_hand(path, complicated: bool, model_dir=None) -> HandInput:
    """Read a hand instance file; the model comes from its sibling model/ folder by default."""
    path = _resolve(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"{path} is a folder: pass an instance file such as hand1_t26_c100.txt "
            "(its model is read from the sibling model/ folder)"
        )
    model = read_hand_model(model_dir if model_dir is not None else path.parent / "model")
    tok = path.read_text().split()
    n_pts, n_theta = int(tok[0]), int(tok[1])
    pos = 2
    rows = np.array(tok[pos:pos + 4 * n_pts], dtype=np.float64).reshape(n_pts, 4)
    pos += 4 * n_pts
    us = None
    if complicated:
        us = np.array(tok[pos:pos + 2 * n_pts], dtype=np.float64).reshape(n_pts, 2)
        pos += 2 * n_pts
    theta = np.array(tok[pos:pos + n_theta], dtype=np.float64)
    if theta.size != n_theta or pos + n_theta != len(tok):
        raise ValueError(f"{path}: unexpected length for a {'complicated' if complicated else 'simple'} instance")
    return HandInput(model, theta, rows[:, 0].astype(np.int64), rows[:, 1:].copy(), us)


# ----------------------------------------------------------------------- references


def read_reference(path) -> dict[str, np.ndarray]:
    """Parse a reference file: '# comments', then blocks 'NAME COUNT' + one line of numbers."""
    lines = [ln for ln in _resolve(path).read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    out: dict[str, np.ndarray] = {}
    for head, body in zip(lines[0::2], lines[1::2]):
        name, count = head.split()
        vals = np.array(body.split(), dtype=np.float64)
        if vals.size != int(count):
            raise ValueError(f"{path}: block {name} has {vals.size} values, expected {count}")
        out[name] = vals
    return out


def _ref_path(path, default: str) -> Path:
    """Return path, or the default reference file inside the ADBench folder."""
    return _resolve(path) if path is not None else require_adbench() / "reference" / default


def read_gmm_reference(path=None) -> dict:
    """Return {'objective': float, 'gradient': (n_params,)} for data/gmm/test.txt."""
    ref = read_reference(_ref_path(path, "gmm_test_expected.txt"))
    return {"objective": float(ref["objective"][0]), "gradient": ref["gradient"]}


def read_lstm_reference(path=None) -> dict:
    """Return {'objective': float (8 digits), 'gradient': (266,)} for lstm_l2_c1024."""
    ref = read_reference(_ref_path(path, "lstm_l2_c1024_expected.txt"))
    return {"objective": float(ref["objective"][0]), "gradient": ref["gradient"]}


def read_ba_reference(path=None) -> dict:
    """Return reproj_err_pair (2,), w_err, jacobian_shape (rows, cols), jacobian_vals (CSR order)."""
    ref = read_reference(_ref_path(path, "ba_test_expected.txt"))
    rows, cols = (int(v) for v in ref["jacobian_shape"])
    return {
        "reproj_err_pair": ref["reproj_err_pair"],
        "w_err": float(ref["w_err"][0]),
        "jacobian_shape": (rows, cols),
        "jacobian_vals": ref["jacobian_vals"],
    }


def read_hand_reference(complicated: bool, path=None) -> dict:
    """Return {'objective': (3N,), 'jacobian': (3N, 26 or 28)} (un-flattened from column-major)."""
    name = "hand_test_complicated_expected.txt" if complicated else "hand_test_simple_expected.txt"
    ref = read_reference(_ref_path(path, name))
    rows, cols = (int(v) for v in ref["jacobian_shape"])
    jac = ref["jacobian_colmajor"].reshape(cols, rows).T.copy()
    return {"objective": ref["objective"], "jacobian": jac}


def read_derived_values(path=None) -> dict[str, dict]:
    """Read reference/derived_objective_values.tsv (not ADBench's): {file: {problem, quantity, value}}."""
    text = _ref_path(path, "derived_objective_values.tsv").read_text()
    out = {}
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    for ln in lines[1:]:
        file, problem, quantity, value, sizes = ln.split("\t")
        out[file] = {"problem": problem, "quantity": quantity, "value": value, "sizes": sizes}
    return out
