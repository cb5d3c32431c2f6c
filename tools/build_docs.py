"""Build the docs site offline into `_docs/`.

1. execute every notebook in `nbs/` in a fresh kernel (committed notebooks carry no outputs, so the
   site can only ever show outputs of the code as it is now);
2. process the executed notebooks with nbdev's own processors (front matter, `#| hide`, `show_doc`...);
3. translate Quarto cell options into myst-nb tags and add the table of contents and API reference;
4. render with Sphinx + myst-nb + sphinx-book-theme, warnings as errors, MathJax served locally.
"""
import html
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import yaml
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / "nbs"
BUILD = ROOT / "_build"
EXECUTED, PROCESSED, SOURCE = BUILD / "executed", BUILD / "processed", BUILD / "site"
OUT = ROOT / "_docs"
# the first digit of a chapter's number says which part of the series it belongs to
PARTS = {"0": "Scalars and computational graphs", "1": "The tensor engine",
         "2": "Functions and losses", "3": "Training networks", "9": "Appendix: tools for every part"}
DIRECTIVE = re.compile(r"^#\|\s*([\w-]+):?\s*(.*?)\s*$")
SOURCE_LINK = re.compile(r"\[source\]\([^)]*\)\{[^}]*\}")  # show_doc's link to GitHub, in Quarto syntax
# what prose must not touch when it links chapter references: code, math and links that are already there
PROTECTED = re.compile(r"```.*?```|`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]*\$|\[[^\]\n]*\]\([^)\n]*\)", re.S)
CHAPTER_REF = re.compile(r"\b([Cc]hapters?|[Cc]h\.)\s+(\d{1,2}(?:(?:,\s*|\s+(?:and|to|or)\s+|\s*[–-]\s*)\d{1,2})*)\b")


def clean_show_doc(markdown):
    "show_doc's markdown as docutils accepts it: no leading rule (read as front matter), no Quarto link."
    markdown = markdown.lstrip()
    return SOURCE_LINK.sub("", markdown[3:] if markdown.startswith("---") else markdown)


def chapters(only=()):
    "Every notebook in reading order, the index first; with `only`, just the index and those chapters."
    nbs = sorted(p for p in NBS.glob("*.ipynb") if not p.name.startswith(("_", ".")))
    return [p for p in sorted(nbs, key=lambda p: p.stem != "index")
            if not only or p.stem == "index" or p.stem in only]


def directives(source):
    "The `#| name: value` lines at the top of a cell, and the source without them."
    found, lines = {}, source.splitlines()
    while lines and (m := DIRECTIVE.match(lines[0])):
        found[m.group(1)] = m.group(2)
        lines.pop(0)
    return found, "\n".join(lines)


def execute(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        found = directives(cell.source)[0] if cell.cell_type == "code" else {}
        if found.get("eval", "").lower() == "false":
            cell.metadata.setdefault("tags", []).append("skip-execution")
        if found.keys() & {"export", "exports", "exporti"}:  # marked now: nbdev's processing drops the directive
            cell.metadata.setdefault("tags", []).append("exported")
    # the kernel listens on 127.0.0.1 only; its warning about unencrypted local TCP is noise here
    client = NotebookClient(nb, timeout=600, kernel_name="python3", extra_arguments=["--IPKernelApp.log_level=ERROR"],
                            resources={"metadata": {"path": str(NBS)}})
    try:
        client.execute()
    except CellExecutionError as error:
        raise SystemExit(f"docs: {path.name} failed to run:\n{error}") from None
    failed = [cell.source.splitlines()[2:3] for cell in nb.cells if cell.cell_type == "code"
              and directives(cell.source)[0].get("exercise") == "solution" and not _passed(cell)]
    if failed:  # a check reports instead of raising: a wrong reference solution would go unnoticed
        raise SystemExit(f"docs: {path.name}: exercise solutions whose check did not pass: {failed}")
    nbformat.write(nb, EXECUTED / path.name)


def _passed(cell):
    "Whether a solution cell's output shows its check passing (the checkers print `✓ passed`)."
    text = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in cell.outputs)
    return "✓ passed" in text and "✗" not in text


def nbdev_process(path):
    """nbdev's own docs processors, minus: hiding the exported code (the course shows the code it derives),
    links into a Quarto site, and running show_doc cells again (they already ran with the whole notebook)."""
    from execnb.nbio import read_nb, write_nb
    from nbdev.processors import FilterDefaults

    class SiteFilter(FilterDefaults):
        def base_procs(self):
            skip = {"rm_export", "add_links", "insert_warning", "add_show_docs", "exec_show_docs"}
            return [p for p in super().base_procs() if p.__name__ not in skip]

    nb = read_nb(path)
    SiteFilter()(nb)
    write_nb(nb, PROCESSED / path.name)


TAGS = {("echo", "false"): "remove-input", ("output", "false"): "remove-output",
        ("include", "false"): "remove-cell", ("code-fold", "true"): "hide-input"}


def separate_display_math(markdown):
    "Blank lines around every `$$` block: Jupyter renders one inside a paragraph, MyST only on its own."
    out, fenced, in_math = [], False, False
    for line in markdown.split("\n"):
        stripped = line.strip()
        if stripped.startswith("```"):
            fenced = not fenced
        starts = not fenced and not in_math and stripped.startswith("$$")
        if starts and out and out[-1].strip():
            out.append("")
        out.append(line)
        closes = stripped.count("$$") > 1 if starts else in_math and "$$" in stripped
        in_math = (starts or in_math) and not closes
        if closes:
            out.append("")
    return "\n".join(out)


def chapter_number(stem):
    "The number a chapter goes by in the prose and on the site: its file name's, without the leading zero."
    return int(stem.split("_")[0])


def link_chapter_references(markdown, stems):
    "Every `chapter 14` (`chapters 20 to 22`, `ch. 3`) in the prose made a link to that chapter."
    by_number = {chapter_number(stem): stem for stem in stems if stem[:2].isdigit()}

    def link(match):
        words, numbers = match.groups()
        def one(number):
            stem = by_number.get(int(number.group(0)))
            return f"[{number.group(0)}]({stem}.ipynb)" if stem else number.group(0)
        if re.fullmatch(r"\d{1,2}", numbers) and int(numbers) in by_number:
            return f"[{words} {numbers}]({by_number[int(numbers)]}.ipynb)"
        return f"{words} " + re.sub(r"\d{1,2}", one, numbers)

    pieces, last = [], 0
    for protected in PROTECTED.finditer(markdown):
        pieces.append(CHAPTER_REF.sub(link, markdown[last:protected.start()]))
        pieces.append(protected.group(0))
        last = protected.end()
    pieces.append(CHAPTER_REF.sub(link, markdown[last:]))
    return "".join(pieces)


MODULE_NAME = re.compile(r"\bmlfz(?:\.\w+)+")


def module_owners(notebooks):
    "Which notebook writes each module: `mlfz.nn.tensor.core` -> `10_tensors`."
    owners = {}
    for path in notebooks:
        for cell in nbformat.read(NBS / path.name, as_version=4).cells:
            if cell.cell_type == "code" and (m := re.search(r"^#\|\s*default_exp\s+(\S+)", cell.source, re.M)):
                owners["mlfz." + m.group(1).removesuffix(".__init__")] = path.stem
    return owners


def builds_on(stem, notebooks):
    "The chapters whose code this chapter's code imports, in reading order (read from its imports)."
    owners, used = module_owners(notebooks), set()
    for cell in nbformat.read(NBS / f"{stem}.ipynb", as_version=4).cells:
        if cell.cell_type == "code":
            for line in cell.source.splitlines():
                if line.lstrip().startswith(("from mlfz", "import mlfz")):
                    for name in MODULE_NAME.findall(line):
                        while name not in owners and "." in name:
                            name = name.rsplit(".", 1)[0]
                        used.add(owners.get(name))
    # the appendix (9x) holds tools, not lessons: drawing a picture is not building on a chapter
    return sorted(s for s in used if s and s != stem and not s.startswith("9"))


def needs_line(stem, notebooks):
    "The line under a chapter's title that says what it builds on, each chapter a link."
    # raw HTML: the line sits in a <p> of its own, where Markdown links are not read
    chapters = [f'<a href="{s}.html">{chapter_number(s)}. {html.escape(_title(s))}</a>'
                for s in builds_on(stem, notebooks)]
    return ("Builds on " + ", ".join(chapters) + "." if chapters
            else "Needs nothing but Python and NumPy.")


def reading_map(notebooks):
    "The index's table of every chapter: its number, what it teaches, what it builds on."
    rows = []
    for path in notebooks:
        if path.stem == "index":
            continue
        needs = ", ".join(str(chapter_number(s)) for s in builds_on(path.stem, notebooks)) or "–"
        rows.append(f"| {chapter_number(path.stem)} | [{_title(path.stem)}]({path.stem}.ipynb) | "
                    f"{_summary(path.stem)} | {needs} |")
    return ("## Reading map\n\nEvery chapter in reading order, with what it teaches and the chapters "
            "whose code it uses (read from its imports, so the map cannot drift from the code).\n\n"
            "| | chapter | what it teaches | builds on |\n|---|---|---|---|\n" + "\n".join(rows))


def to_myst(path, notebooks):
    "Turn nbdev's Quarto-flavoured notebook into one myst-nb renders the same way."
    nb = nbformat.read(path, as_version=4)
    cells = []
    for cell in nb.cells:
        source = cell.source
        if cell.cell_type == "raw" and source.startswith("---"):
            front = yaml.safe_load(source.strip().strip("-"))
            summary = f'\n\n<p class="chapter-summary">{front["description"]}</p>' if front.get("description") else ""
            if path.stem == "index":
                cells.append(nbformat.v4.new_markdown_cell(f"# {front['title']}{summary}"))
            else:
                needs = f'\n\n<p class="chapter-needs">{needs_line(path.stem, notebooks)}</p>'
                cells.append(nbformat.v4.new_markdown_cell(
                    f"# {chapter_number(path.stem)}. {front['title']}{summary}{needs}"))
            continue
        if not source.strip():
            continue
        if cell.cell_type == "markdown":
            cell.source = link_chapter_references(separate_display_math(source), [p.stem for p in notebooks])
        if cell.cell_type == "code":
            found, cell.source = directives(source)
            if "default_exp" in found:
                continue
            tags = [TAGS[item] for item in found.items() if item in TAGS]
            tags += [tag for tag in cell.metadata.get("tags", []) if tag == "exported"]
            cell.metadata = {"tags": tags} if tags else {}
            for output in cell.get("outputs", []):
                if "text/markdown" in output.get("data", {}):
                    output.data["text/markdown"] = clean_show_doc(output.data["text/markdown"])
        cells.append(cell)
    nb.cells = cells
    if path.stem == "index":
        nb.cells.append(nbformat.v4.new_markdown_cell(reading_map(notebooks)))
        nb.cells.append(nbformat.v4.new_markdown_cell(table_of_contents(notebooks)))
    nbformat.write(nb, SOURCE / path.name)


def table_of_contents(notebooks):
    parts = {}
    for path in notebooks:
        if path.stem != "index":
            parts.setdefault(PARTS.get(path.stem[0], "More"), []).append(path.stem)
    trees = [f"```{{toctree}}\n:caption: {caption}\n:maxdepth: 1\n\n" + "\n".join(stems) + "\n```"
             for caption, stems in parts.items()]
    trees.append("```{toctree}\n:caption: Reference\n:maxdepth: 1\n\napi\n```")
    return "## Contents\n\n" + "\n\n".join(trees)


def api_reference(notebooks):
    """One page with every public name, module by module: its real signature, its whole docstring and
    the chapter that derives it. A name a module only re-exports is listed once, where it is defined."""
    import importlib

    sections = ["# API reference\n\nEvery public name of the package, module by module, with the chapter that "
                "derives it. A module that re-exports names from others lists them in one line.\n"]
    for path in sorted((ROOT / "mlfz").rglob("*.py")):
        source = re.search(r"File to edit: \S*?nbs/(\S+)\.ipynb", path.read_text())
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"))
        names = [n for n in getattr(module, "__all__", []) if not n.startswith("_")]
        if not (source and names and NBS / f"{source.group(1)}.ipynb" in notebooks):
            continue
        chapter = source.group(1)
        own = [n for n in names if getattr(getattr(module, n), "__module__", module.__name__) == module.__name__]
        reexported = [n for n in names if n not in own]
        sections.append(f"## `{module.__name__}`\n\nDerived in [{chapter_number(chapter)}. {_title(chapter)}]"
                        f"({chapter}.ipynb).\n")
        if reexported:
            sections.append("Also here, from the modules that define them: " +
                            ", ".join(f"`{n}`" for n in reexported) + ".\n")
        sections += [api_entry(name, getattr(module, name)) + usage(name, chapter, notebooks) for name in own]
    (SOURCE / "api.md").write_text("\n\n".join(sections))


def _first_line(obj):
    "The first line of `obj`'s docstring, safe inside a Markdown table."
    import inspect

    return (inspect.getdoc(obj) or "").splitlines()[0].replace("|", "\\|")


def _readable(signature):
    "A signature as it is written in code: `dtype=np.float64`, `metrics=(accuracy,)`, not reprs."
    text = re.sub(r"<class '(?:numpy\.)(\w+)'>", r"np.\1", str(signature))
    text = re.sub(r"<class '(?:\w+\.)*(\w+)'>", r"\1", text)
    return re.sub(r"<function (\w+) at 0x[0-9a-f]+>", r"\1", text)


_CODE_LINES = {}


def _code_lines(stem):
    "The lines of a chapter's visible, non-exported code cells (where a name is used, not defined)."
    if stem not in _CODE_LINES:
        lines = []
        for cell in nbformat.read(NBS / f"{stem}.ipynb", as_version=4).cells:
            found = directives(cell.source)[0] if cell.cell_type == "code" else None
            if found is not None and not found.keys() & {"export", "exporti", "hide", "eval", "exercise"}:
                lines += cell.source.splitlines()
        _CODE_LINES[stem] = lines
    return _CODE_LINES[stem]


def usage(name, chapter, notebooks):
    "One line of a chapter that uses `name`, as an example: the deriving chapter first, then the rest."
    call = re.compile(rf"(?<![\w.]){re.escape(name)}\(|\.{re.escape(name)}\(")
    for stem in [chapter] + [p.stem for p in notebooks if p.stem not in (chapter, "index")]:
        for line in _code_lines(stem):
            code = line.strip()
            whole = code.count("(") == code.count(")") and code.count("[") == code.count("]")
            if (call.search(code) and whole and len(code) <= 84 and not code.startswith(
                    ("def ", "class ", "import ", "from ", "show_doc", "@", "#", "assert not"))):
                return (f"Example, from [chapter {chapter_number(stem)}]({stem}.ipynb):\n\n"
                        f"```python\n{code}\n```\n")
    return ""


def _call_form(name, signature):
    "`name(parameters)` on one line, or one parameter a line where one line would overflow the column."
    one_line = f"{name}{_readable(signature)}"
    if len(one_line) <= 80:
        return one_line
    parameters = [_readable(signature.replace(parameters=[p])).strip("()") for p in signature.parameters.values()]
    return f"{name}(\n" + "".join(f"    {p},\n" for p in parameters) + ")"


def api_entry(name, obj):
    "The reference entry of `obj`: a heading, the signature as it is called, the docstring, a class's members."
    import inspect

    if isinstance(obj, type) and obj.__module__.startswith("mlfz.") and obj.__doc__ is None:
        return f"### `{name}`\n"
    if inspect.ismodule(obj):  # a submodule made importable from its package
        return f"### `{name}`\n\nThe module `{obj.__name__}`, documented in its own section.\n"
    if not callable(obj):  # a constant: inline, where a long value can wrap
        return f"### `{name}`\n\n`{name} = {obj!r}`\n"
    try:
        signature = _call_form(name, inspect.signature(obj))
    except (TypeError, ValueError):  # a builtin without a signature
        signature = name
    entry = [f"### `{name}`", f"```python\n{signature}\n```", inspect.getdoc(obj) or ""]
    if isinstance(obj, type):
        members = [(n, m) for n, m in vars(obj).items() if not n.startswith("_") and (inspect.getdoc(m) or "")
                   and not inspect.getdoc(m).startswith("Alias for field number")]  # a namedtuple's fields
        rows = [f"| `{n}` | {_first_line(m)} |" for n, m in members]
        if rows:
            entry.append("| member | what it does |\n|---|---|\n" + "\n".join(rows))
    return "\n\n".join(entry) + "\n"


def _summary(stem):
    "A chapter's one-line summary: the `> ...` line under its title."
    for cell in nbformat.read(NBS / f"{stem}.ipynb", as_version=4).cells:
        if cell.cell_type == "markdown" and (m := re.search(r"^>\s*(.+)$", cell.source, re.M)):
            return m.group(1).strip()
    return ""


def _title(stem):
    "A chapter's title: the first level-1 heading of its notebook."
    for cell in nbformat.read(NBS / f"{stem}.ipynb", as_version=4).cells:
        if cell.cell_type == "markdown" and (m := re.search(r"^#\s+(.+)$", cell.source, re.M)):
            return m.group(1).strip()
    return stem


def copy_static():
    import mathjax

    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    shutil.copytree(es5, SOURCE / "_static" / "mathjax", dirs_exist_ok=True)
    for path in (ROOT / "tools" / "docs").iterdir():
        shutil.copy(path, SOURCE / ("" if path.suffix == ".py" else "_static") / path.name)


def main(only):
    os.chdir(ROOT)
    for folder in (EXECUTED, PROCESSED, SOURCE, BUILD / "html"):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    notebooks = chapters(only)
    print(f"docs: executing {len(notebooks)} notebooks", flush=True)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(execute, notebooks))
    print("docs: processing with nbdev", flush=True)
    os.environ["IN_TEST"] = "1"  # what nbdev's own docs driver sets while processing
    for path in notebooks:
        nbdev_process(EXECUTED / path.name)
    for path in notebooks:
        to_myst(PROCESSED / path.name, notebooks)
    api_reference(notebooks)
    copy_static()
    print("docs: rendering with Sphinx", flush=True)
    html = BUILD / "html"  # myst-nb writes its output files beside the output folder: keep them in _build
    result = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q",
                             "-d", str(BUILD / "doctrees"), str(SOURCE), str(html)])
    if result.returncode:
        raise SystemExit("docs: Sphinx reported warnings or errors (listed above)")
    shutil.rmtree(OUT, ignore_errors=True)
    html.rename(OUT)
    print(f"docs: built {OUT.relative_to(ROOT)}/index.html — open it in a browser, or run `make preview`")


if __name__ == "__main__":
    main(sys.argv[1:])  # optional chapter names (e.g. 03_backward_in_practice) for a quick partial build
