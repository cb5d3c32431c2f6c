"""Write the student edition of the notebooks: `python tools/student.py [FOLDER]` (default `_student`).

Every notebook of nbs/, with its exercises as the appendix "Exercise checkers" lays them down:
- a solution cell (`#| exercise: solution`) keeps its code but the regions between
  `### BEGIN SOLUTION` and `### END SOLUTION`, replaced as nbgrader replaces them;
- a stub cell (`#| exercise: stub`) loses its `#| eval: false`: there it is the learner's to run;
- a rejection cell (`#| exercise: rejects`) is dropped: it holds wrong answers next to right ones;
- the answer of an open question, `<details class="answer">…</details>`, becomes nbgrader's text stub.
A notebook that breaks these rules stops the build with an error naming it and the cell.
"""
import re
import shutil
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_docs import chapters, directives  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"  # nbgrader's delimiters, found anywhere in a line
CODE_STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]  # nbgrader's stubs
TEXT_STUB = "YOUR ANSWER HERE"
ANSWER = re.compile(r'^<details class="answer">.*?^</details>[ \t]*$', re.S | re.M)  # a block, not a mention
EVAL_FALSE = re.compile(r"^#\|\s*eval:\s*false\s*\n", re.M)


class ExerciseError(ValueError):
    "A notebook whose exercise cells break the conventions."


def clear_solutions(source, where):
    "`source` with each solution region replaced by nbgrader's code stub, at the region's indentation."
    lines, inside = [], False
    for line in source.split("\n"):
        if BEGIN in line:
            indent = line[:len(line) - len(line.lstrip())]
            if inside:
                raise ExerciseError(f"{where}: a solution region begins inside another one")
            if not indent:  # a bare `raise` would stop the notebook before the check runs
                raise ExerciseError(f"{where}: a solution region at the top level; put the answer "
                                    "inside a function, so that the cleared cell still runs its check")
            lines += [indent + stub for stub in CODE_STUB]
            inside = True
        elif END in line:
            if not inside:
                raise ExerciseError(f"{where}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            lines.append(line)
    if inside:
        raise ExerciseError(f"{where}: {BEGIN} without {END}")
    return "\n".join(lines)


def student_cell(cell, where):
    "The cell as the student edition has it, or None where it has none."
    found = directives(cell.source)[0] if cell.cell_type == "code" else {}
    role = found.get("exercise")
    if role not in (None, "stub", "solution", "rejects"):
        raise ExerciseError(f"{where}: unknown exercise role {role!r} (stub, solution or rejects)")
    if (BEGIN in cell.source or END in cell.source) != (role == "solution"):  # nbgrader reads prose too
        raise ExerciseError(f"{where}: solution markers belong in `#| exercise: solution` cells "
                            "(and nowhere else, prose included), and every solution cell has them")
    if cell.cell_type == "markdown":
        cell.source = ANSWER.sub(TEXT_STUB, cell.source)
        return cell
    if cell.cell_type != "code":
        return cell
    if role == "stub":
        if found.get("eval") != "false":
            raise ExerciseError(f"{where}: a stub needs `#| eval: false`, or the tests would run it")
        cell.source = EVAL_FALSE.sub("", cell.source, count=1)
    elif role == "solution":
        if found.get("code-fold") != "true":
            raise ExerciseError(f"{where}: a solution needs `#| code-fold: true`, to be folded on the site")
        cell.source = clear_solutions(cell.source, where)
    elif role == "rejects":
        if "hide" not in found:
            raise ExerciseError(f"{where}: a rejection cell needs `#| hide`")
        return None
    return cell


def student_notebook(nb, name):
    "The student edition of the notebook `nb` (read from the file `name`)."
    cells = [student_cell(cell, f"{name}, cell {number}") for number, cell in enumerate(nb.cells, 1)]
    nb.cells = [cell for cell in cells if cell is not None]
    return nb


def main(out):
    out = Path(out).resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    notebooks = chapters()
    try:
        for path in notebooks:
            nb = student_notebook(nbformat.read(path, as_version=4), path.name)
            nbformat.write(nb, out / path.name)
    except ExerciseError as error:
        raise SystemExit(f"student: {error}") from None
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"student: {len(notebooks)} notebooks in {shown}/; open them with "
          f"`make lab NOTEBOOKS={shown}`")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ROOT / "_student")
