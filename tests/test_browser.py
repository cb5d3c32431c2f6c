"""Open every page of the built site in headless Chromium over http://127.0.0.1 and check what a
reader sees: math typeset by MathJax without errors, every image loaded, no block wider than the
column, no request to another host, no console error. Screenshots go to tests/screenshots/ (not committed)."""
import functools
import http.server
import shutil
import threading
from urllib.parse import urlparse

import pytest

from conftest import ROOT, SITE

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
SHOTS = ROOT / "tests" / "screenshots"


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("Chromium is not installed: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=FLAGS)
        yield browser
        browser.close()


@pytest.mark.parametrize("page_name", sorted(p.stem for p in SITE.glob("*.html") if p.stem not in ("genindex", "search")))
def test_page_renders_in_a_real_browser(server, browser, page_name):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    remote, errors = [], []
    page.on("request", lambda r: urlparse(r.url).hostname not in (None, "127.0.0.1") and remote.append(r.url))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} for {r.url}"))
    page.goto(f"{server}/{page_name}.html", wait_until="networkidle")
    math = page.locator(".math").count()
    if math:
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("MathJax.startup.promise")
        typeset = page.locator("mjx-container").count()
        assert typeset >= math, f"MathJax typeset {typeset} of {math} formulas"
        assert page.locator("mjx-merror").count() == 0, "a formula has a TeX error"
    # a `$` left in the prose is math that MyST did not recognise (MathJax then typesets nonsense)
    stray = page.evaluate("""() => {
        const article = document.querySelector('article').cloneNode(true);
        article.querySelectorAll('pre, code, .math, mjx-container, script, style').forEach(e => e.remove());
        return article.textContent.split('\\n').filter(line => line.includes('$')).map(line => line.trim());
    }""")
    assert not stray, f"unrendered math: {stray}"
    # a code block, an output, a formula or a table wider than the column hides part of itself
    wide = page.evaluate("""() => Array.from(document.querySelectorAll(
            'article pre, article .math, article table, article .cell_output > .output'))
        .filter(e => e.scrollWidth > e.clientWidth + 1)
        .map(e => e.textContent.trim().split('\\n')[0].slice(0, 80))""")
    assert not wide, f"blocks wider than the column at 1280 px: {wide}"
    broken = page.evaluate("Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
    assert not broken, f"images that did not load: {broken}"
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{page_name}.png"), full_page=False)
    page.close()
    assert not remote, f"requests to other hosts: {remote}"
    assert not errors, f"console errors: {errors}"
