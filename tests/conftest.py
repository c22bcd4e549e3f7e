"""Shared test setup: a private srcgrad cache per test session unless one is given."""

import os
import tempfile

os.environ.setdefault("SRCGRAD_CACHE_DIR", tempfile.mkdtemp(prefix="srcgrad-test-cache-"))
