import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI explores the same examples on every run, so a landing never depends on luck; locally each run
# tries new ones
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_docs"
CHAPTERS = sorted(p for p in (ROOT / "nbs").glob("*.ipynb") if not p.name.startswith(("_", ".")))


@pytest.fixture(scope="session")
def site():
    "The built docs site; `make test` builds it before running pytest."
    if not (SITE / "index.html").exists():
        pytest.fail("no docs site in _docs/: run `make docs` (make test builds it first)")
    return SITE
