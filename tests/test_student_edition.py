"""The student edition (tools/student.py): solutions cleared as nbgrader clears them, stubs made
runnable, rejections dropped, conventions enforced; and the whole edition, built into a temporary
folder, runs top to bottom with every exercise reporting "not implemented yet"."""
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import student  # noqa: E402
from build_docs import directives  # noqa: E402

VERDICTS = ("✓ passed", "✗ wrong", "✗ raised", "○ not implemented yet")


def code(source):
    return nbformat.v4.new_code_cell(source)


def test_a_solution_region_becomes_nbgraders_stub_at_its_indentation():
    solution = ("#| code-fold: true\n#| exercise: solution\ndef f(x):\n    y = 2\n"
                "    ### BEGIN SOLUTION\n    return x * y\n    ### END SOLUTION\ncheck(f)")
    cell = student.student_cell(code(solution), "nb, cell 1")
    assert cell.source == ("#| code-fold: true\n#| exercise: solution\ndef f(x):\n    y = 2\n"
                           "    # YOUR CODE HERE\n    raise NotImplementedError()\ncheck(f)")


def test_a_stub_becomes_runnable_and_rejections_are_dropped():
    stub = student.student_cell(code("#| eval: false\n#| exercise: stub\nf = ...\ncheck(f)"), "nb")
    assert stub.source == "#| exercise: stub\nf = ...\ncheck(f)"
    assert student.student_cell(code("#| hide\n#| exercise: rejects\nassert 1"), "nb") is None
    plain = "#| eval: false\ndownload()"  # not an exercise: left as it is
    assert student.student_cell(code(plain), "nb").source == plain


def test_an_open_questions_answer_becomes_nbgraders_text_stub():
    question = ('Why?\n\n<details class="answer"><summary>Answer</summary>\n\nBecause.\n\n</details>\n'
                'A mention of `<details class="answer">` in the prose stays.')
    cell = student.student_cell(nbformat.v4.new_markdown_cell(question), "nb")
    assert cell.source == 'Why?\n\nYOUR ANSWER HERE\nA mention of `<details class="answer">` in the prose stays.'


@pytest.mark.parametrize("source, complaint", [
    ("x = 1\n### BEGIN SOLUTION\nx = 2\n### END SOLUTION", "solution markers belong"),
    ("#| code-fold: true\n#| exercise: solution\nx = 1", "solution markers belong"),
    ("#| exercise: solution\ndef f():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION", "code-fold"),
    ("#| code-fold: true\n#| exercise: solution\n### BEGIN SOLUTION\nx = 2\n### END SOLUTION", "top level"),
    ("#| code-fold: true\n#| exercise: solution\ndef f():\n    ### BEGIN SOLUTION\n    pass", "without END"),
    ("#| exercise: stub\nf = ...", "eval: false"),
    ("#| exercise: rejects\nassert 1", "#| hide"),
    ("#| exercise: answer\nx = 1", "unknown exercise role"),
    ("Put it between `### BEGIN SOLUTION` and `### END SOLUTION`.", "prose included"),
])
def test_a_cell_that_breaks_the_conventions_is_refused_by_name(source, complaint):
    cell = code(source) if source.startswith(("#|", "x =")) else nbformat.v4.new_markdown_cell(source)
    with pytest.raises(student.ExerciseError, match="nb.ipynb, cell 3") as error:
        student.student_cell(cell, "nb.ipynb, cell 3")
    assert complaint in str(error.value)


def role(cell):
    return directives(cell.source)[0].get("exercise") if cell.cell_type == "code" else None


def execute(path):
    "Run the notebook at `path` top to bottom in a fresh kernel, as JupyterLab's Run All does."
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                   extra_arguments=["--IPKernelApp.log_level=ERROR"]).execute()
    return nb


def test_the_whole_edition_runs_and_every_exercise_is_not_implemented_yet(tmp_path):
    student.main(tmp_path)
    paths = sorted(tmp_path.glob("*.ipynb"))
    assert len(paths) == len(list((ROOT / "nbs").glob("[!_.]*.ipynb")))
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:  # the 2 cores of `make test`
        notebooks = list(pool.map(execute, paths))
    print(f"the student edition ran in {time.perf_counter() - start:.0f} s")
    exercises = 0
    for path, nb in zip(paths, notebooks):
        for cell in nb.cells:
            if role(cell) not in ("stub", "solution"):
                continue
            printed = "".join(out.get("text", "") for out in cell.outputs)
            verdicts = [line for line in printed.splitlines() if line.startswith(VERDICTS)]
            assert verdicts and all(v.startswith("○ not implemented yet") for v in verdicts), \
                f"{path.name}: an exercise cell reports {verdicts}:\n{cell.source}"
            exercises += 1
    assert exercises >= 6  # the appendix's own three exercises, stub and solution each
