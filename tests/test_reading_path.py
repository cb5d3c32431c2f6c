"""The reading path: a chapter uses only what the chapters before it built, and names only chapters that exist.

Appendix chapters (numbered 9x) hold tools, not lessons (the picture machinery of chapter 90), so any
chapter may use them. The index is the front page, which shows the finished package; it is not a step
of the path."""
import re
import sys

import nbformat

from conftest import CHAPTERS, ROOT

sys.path.insert(0, str(ROOT / "tools"))
from build_docs import CHAPTER_REF, MODULE_NAME, chapter_number, module_owners  # noqa: E402

LESSONS = [path for path in CHAPTERS if path.stem != "index"]
FROM_MLFZ_IMPORT = re.compile(r"\bfrom\s+mlfz\s+import\s+\(?([\w \t,]+)")  # `from mlfz import gradcheck`

# Forward references that are known and owned by work in progress elsewhere: the tensor chapters are being
# reworked for speed, and these go when that work lands. The set must be exactly what the test finds, so a
# new forward reference fails the test, and so does one fixed without removing it here.
EXPECTED = set()  # (chapter, the later chapter's module it imports or names)


def is_appendix(stem):
    return stem.startswith("9")


def named_modules(source):
    "Every `mlfz` module a cell imports or names, in code or in prose."
    names = set(MODULE_NAME.findall(source))
    for imported in FROM_MLFZ_IMPORT.findall(source):
        names |= {f"mlfz.{name.strip()}" for name in imported.split(",") if name.strip()}
    return names


def writer_of(name, owners):
    "The module that `name` (a module, or a name inside one) lives in, if a notebook writes it."
    while name not in owners and "." in name:
        name = name.rsplit(".", 1)[0]
    return name if name in owners else None


def module_writers():
    """Which chapter writes each module. A module no notebook exports (`mlfz/__init__.py`, the original
    library's import paths such as `mlfz.nn.model`) belongs to the latest chapter it imports from."""
    owners = module_owners(CHAPTERS)
    for path in sorted((ROOT / "mlfz").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        if module in owners:
            continue
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        sources = []
        for dots, name in re.findall(r"^from (\.+)([\w.]*) import", path.read_text(), re.M):
            base = package.rsplit(".", len(dots) - 1)[0] if len(dots) > 1 else package
            source = writer_of(f"{base}.{name}" if name else base, owners)
            sources += [owners[source]] if source else []
        if sources:
            owners[module] = max(sources, key=chapter_number)
    return owners


def forward_references():
    "(chapter, module) for every module a chapter imports or names that a later chapter writes."
    owners = module_writers()
    found = set()
    for path in LESSONS:
        for cell in nbformat.read(path, as_version=4).cells:
            for name in named_modules(cell.source):
                module = writer_of(name, owners)
                writer = owners.get(module)
                if (writer and not is_appendix(writer)
                        and chapter_number(writer) > chapter_number(path.stem)):
                    found.add((path.stem, module))
    return found


def test_the_scanner_sees_imports_and_prose():
    owners = {"mlfz.gradcheck": "04_gradient_checking", "mlfz.nn.tensor": "24_the_tensor_package",
              "mlfz.nn.tensor.core": "10_tensors"}
    source = "from mlfz import gradcheck\nSee `mlfz.nn.tensor.core.Tensor` and mlfz.nn.tensor."
    assert {writer_of(name, owners) for name in named_modules(source)} == set(owners)
    assert writer_of("mlfz.manual_seed", owners) is None


def test_no_chapter_uses_a_later_chapters_module():
    found = forward_references()
    assert not found - EXPECTED, f"forward references: {sorted(found - EXPECTED)}"
    assert not EXPECTED - found, f"fixed, remove them from EXPECTED: {sorted(EXPECTED - found)}"


def test_every_chapter_number_named_exists():
    "The site links every `chapter N` of the prose; a number with no chapter would be left a dead reference."
    numbers = {chapter_number(path.stem) for path in LESSONS}
    missing = []
    for path in CHAPTERS:
        for cell in nbformat.read(path, as_version=4).cells:
            for match in CHAPTER_REF.finditer(cell.source):
                missing += [(path.stem, match.group(0)) for number in re.findall(r"\d+", match.group(2))
                            if int(number) not in numbers]
    assert not missing, f"chapters that do not exist: {missing}"
