"The pieces of the offline docs build that rewrite notebooks on their way to Sphinx."
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
from build_docs import clean_show_doc, directives, separate_display_math  # noqa: E402


def test_display_math_gets_its_own_paragraph():
    assert separate_display_math("so:\n$$x = 1\n+ 2$$\nthen") == "so:\n\n$$x = 1\n+ 2$$\n\nthen"
    assert separate_display_math("a\n$$\nx\n$$\nb") == "a\n\n$$\nx\n$$\n\nb"
    assert separate_display_math("inline $x$ and $$y$$ stay") == "inline $x$ and $$y$$ stay"


def test_display_math_inside_code_fences_is_left_alone():
    fenced = "```\n$$ not math\n```"
    assert separate_display_math(fenced) == fenced


def test_directives_are_read_and_removed():
    found, source = directives("#| export\n#| code-fold: true\nx = 1\n#| not a directive here")
    assert found == {"export": "", "code-fold": "true"}
    assert source == "x = 1\n#| not a directive here"


def test_show_doc_markdown_loses_its_rule_and_quarto_link():
    markdown = '---\n\n[source](https://example.org/x.py#L1){target="_blank" style="float:right"}\n\n### f\n'
    assert clean_show_doc(markdown) == "\n\n\n\n### f\n"
