"Sphinx configuration for the mlfz site; tools/build_docs.py copies it next to the processed notebooks."
from configparser import ConfigParser
from pathlib import Path

settings = ConfigParser(delimiters=["="])
settings.read(Path(__file__).resolve().parents[2] / "settings.ini", encoding="utf-8")
cfg = settings["DEFAULT"]

project = "mlfz: Machine Learning From Zero"
author = cfg["author"]
copyright = cfg["copyright"].replace("%(author)s", author)
release = cfg["version"]

extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = ["myst.header"]  # show_doc headings sit one level below the notebook's own

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
nb_execution_mode = "off"  # tools/build_docs.py has executed every notebook just before
nb_merge_streams = True
nb_render_markdown_format = "myst"  # markdown outputs (show_doc entries) get math like the prose

# MathJax from our own copy (no other host is ever contacted); SVG output needs no web fonts
mathjax_path = "mathjax/tex-svg-full.js"
mathjax3_config = {"tex": {"tags": "ams"}, "svg": {"fontCache": "global"},
                   "options": {"menuOptions": {"settings": {"assistiveMml": False}}}}

html_theme = "sphinx_book_theme"
html_title = "mlfz"
html_favicon = "_static/logo.svg"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "logo": {"text": "mlfz", "image_light": "_static/logo.svg", "image_dark": "_static/logo.svg"},
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "use_download_button": False,
    "use_fullscreen_button": False,
}
html_context = {"default_mode": "light"}
html_show_sourcelink = False
html_copy_source = False
