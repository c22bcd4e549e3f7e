"""The on-disk cache of generated modules.

Generated code lives in real files (numba can only disk-cache functions defined in files),
named by a hash of everything that determines their content: the user's source (and the
sources of the functions it calls, and the global constants it reads), the argument types, the
srcgrad version and a hash of srcgrad's own files (runtime helpers and rules included, since
numba does not notice when a callee in another file changes).  Files are written atomically
(temp file + rename), so concurrent processes never see half a module.  A `sys.meta_path`
finder lets numba re-import a generated module by name when it loads cached machine code.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.util
import os
import sys
from functools import lru_cache
from pathlib import Path

PREFIX = "srcgrad_gen_"
_PACKAGE_DIR = Path(__file__).resolve().parent


def cache_dir() -> Path:
    env = os.environ.get("SRCGRAD_CACHE_DIR")
    if env:
        path = Path(env)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
        path = Path(base) / "srcgrad"
    path.mkdir(parents=True, exist_ok=True)
    return path


@lru_cache(maxsize=1)
def package_hash() -> str:
    """A hash of every source file of srcgrad (runtime helpers and rules included)."""
    h = hashlib.sha256()
    for path in sorted(_PACKAGE_DIR.rglob("*.py")):
        h.update(str(path.relative_to(_PACKAGE_DIR)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def key(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:20]


def module_path(name: str) -> Path:
    return cache_dir() / f"{name}.py"


def write_atomic(path: Path, text: str) -> None:
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def load_module(name: str, text: str):
    """Write ``text`` as module ``name`` in the cache (if needed) and import it."""
    if name in sys.modules:
        return sys.modules[name]
    path = module_path(name)
    write_atomic(path, text)
    return _import(name, path)


def _import(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


class _Finder(importlib.abc.MetaPathFinder):
    """Finds ``srcgrad_gen_*`` modules in the cache directory (numba re-imports them)."""

    def find_spec(self, fullname, path, target=None):
        if not fullname.startswith(PREFIX):
            return None
        file = module_path(fullname)
        if not file.exists():
            return None
        return importlib.util.spec_from_file_location(fullname, file)


def install_finder() -> None:
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
