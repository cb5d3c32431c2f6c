"""Write README.md from nbs/index.ipynb (nbdev_readme needs Quarto); `--check` fails if it is stale."""
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
HEADER = "<!-- Generated from nbs/index.ipynb by tools/readme.py: edit the notebook, then run `make readme`. -->\n\n"


def render():
    nb = nbformat.read(ROOT / "nbs" / "index.ipynb", as_version=4)
    blocks = []
    for cell in nb.cells:
        source = cell.source.strip()
        if cell.cell_type == "markdown":
            blocks.append(source)
        elif cell.cell_type == "code" and source and not source.startswith("#| hide"):
            blocks.append(f"```python\n{source}\n```")
    return HEADER + "\n\n".join(blocks) + "\n"


if __name__ == "__main__":
    readme = ROOT / "README.md"
    if "--check" in sys.argv:
        if not readme.exists() or readme.read_text() != render():
            sys.exit("README.md is out of date with nbs/index.ipynb: run `make readme` and commit it")
    else:
        readme.write_text(render())
