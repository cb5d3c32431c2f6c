from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_docs"
CHAPTERS = sorted(p for p in (ROOT / "nbs").glob("*.ipynb") if not p.name.startswith(("_", ".")))


@pytest.fixture(scope="session")
def site():
    "The built docs site; `make test` builds it before running pytest."
    if not (SITE / "index.html").exists():
        pytest.fail("no docs site in _docs/: run `make docs` (make test builds it first)")
    return SITE
