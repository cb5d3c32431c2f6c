"The built site: a page per notebook, pictures and math where the notebooks have them, nothing remote."
import importlib
import re

import nbformat
import pytest

from conftest import CHAPTERS, ROOT

REMOTE_ASSET = re.compile(r"<(?:script|link|img|iframe|source|video|audio)\b[^>]*\b(?:src|href)=\"(?:https?:)?//", re.I)


def sources(path, cell_type):
    return "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == cell_type)


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_every_notebook_has_a_page(site, notebook):
    path = site / f"{notebook.stem}.html"
    assert path.exists(), f"{notebook.name} has no page in the site"
    page = path.read_text()
    if "draw_graph(" in sources(notebook, "code") or "backward_steps(" in sources(notebook, "code"):
        assert "<svg" in page or re.search(r"<img[^>]+\.svg", page), f"{notebook.stem} draws a graph but its page has no SVG"
    if re.search(r"^#\|\s*export", sources(notebook, "code"), re.M):
        assert "tag_exported" in page, f"{notebook.stem} exports code but its page does not mark it"
    if re.search(r"\$[^$]+\$", sources(notebook, "markdown")):
        assert 'class="math' in page, f"{notebook.stem} has math but its page has none"


@pytest.mark.parametrize("page", sorted((ROOT / "_docs").glob("*.html")), ids=lambda p: p.stem)
def test_no_page_loads_anything_from_another_host(page):
    html = page.read_text()
    assert not REMOTE_ASSET.search(html), REMOTE_ASSET.search(html).group(0)
    if 'class="math' in html:
        assert '_static/mathjax/tex-svg-full.js' in html


def test_api_reference_documents_every_exported_name(site):
    api = (site / "api.html").read_text()
    for path in sorted((ROOT / "mlfz").rglob("*.py")):
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"))
        for name in getattr(module, "__all__", []):
            assert f'id="{name.lower().replace("_", "-")}"' in api or f">{name}<" in api, f"{module.__name__}.{name} missing from the API reference"


def test_sidebar_lists_chapters_in_reading_order(site):
    index = (site / "index.html").read_text()
    positions = [index.find(f'href="{nb.stem}.html"') for nb in CHAPTERS if nb.stem != "index"]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)


UNREAD = re.compile(r"<(a|pre|code|script|style)\b.*?</\1>|<(span|div) class=\"math.*?</\2>", re.S)
CHAPTER_REF = re.compile(r"\b(?:[Cc]hapters?|[Cc]h\.)\s+\d{1,2}\b")


@pytest.mark.parametrize("page", sorted((ROOT / "_docs").glob("*.html")), ids=lambda p: p.stem)
def test_every_chapter_reference_in_the_prose_is_a_link(page):
    "The build links `chapter 14` to chapter 14; what is left unlinked names a chapter that does not exist."
    text = re.sub(r"<[^>]+>", " ", UNREAD.sub(" ", page.read_text()))
    assert not CHAPTER_REF.findall(text), f"unlinked chapter references: {CHAPTER_REF.findall(text)}"


def test_page_titles_carry_the_chapter_numbers_the_prose_uses(site):
    for notebook in CHAPTERS:
        if notebook.stem != "index":
            title = re.search(r"<h1>(.*?)<", (site / f"{notebook.stem}.html").read_text(), re.S).group(1)
            assert title.startswith(f"{int(notebook.stem[:2])}. "), title
