"""What each agent hands back: the arguments of its submit tool.

The class docstrings and ``Field`` descriptions become the JSON schema the model is shown, so they are
written for the model. Every string and list is bounded: a run that ends with a ten-megabyte "summary"
is refused, and the model gets the validation error to fix and submit again.
"""

import ast
import posixpath
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

Priority = Literal["P1", "P2", "P3", "P4"]


def _relative_path(value: str) -> str:
    """A repository-relative POSIX path: not absolute, no ``..``, no backslashes."""
    if value.startswith(("/", "~")) or "\\" in value:
        raise ValueError(f"{value!r} must be a path relative to the repository root, with '/' separators")
    if ".." in value.split("/"):
        raise ValueError(f"{value!r} must not contain '..'; give the path from the repository root")
    return posixpath.normpath(value)


def find_tests(workspace: Path, files: list[str], name: str) -> list[str]:
    """Node ids of the test functions or methods called ``name`` (or ``Class.name``) in ``files``."""
    wanted_class, _, wanted = name.rpartition(".") if "." in name else ("", "", name)
    found = []
    for file in files:
        path = (workspace / file).resolve()
        if not path.is_relative_to(workspace.resolve()) or not path.is_file():
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            continue
        for node in tree.body:
            if (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and node.name == wanted
                and not wanted_class
            ):
                found.append(f"{file}::{node.name}")
            elif isinstance(node, ast.ClassDef) and wanted_class in ("", node.name):
                found += [
                    f"{file}::{node.name}::{item.name}"
                    for item in node.body
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name == wanted
                ]
    return found


NOT_DONE = (
    "What of your task, or of the reviewer's request, you did not do, and why (a request you judged wrong, "
    "one outside what you may change, something you could not make work). Empty when you did all of it. "
    "The reviewer reads this word for word."
)

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
RepoPath = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
    AfterValidator(_relative_path),
]
NodeId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=400)]


class _Submission(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TriageSubmission(_Submission):
    """The triage of the incident: how urgent it is, where it lives, and what 'fixed' means."""

    priority: Priority = Field(
        description=(
            "P1: outage, data loss or corruption, or a security hole; no workaround. P2: a core feature "
            "gives wrong results or fails for many users. P3: a limited or edge-case defect, or one with "
            "an easy workaround. P4: cosmetic, documentation, or not clearly a defect."
        )
    )
    component: str = Field(
        min_length=1,
        max_length=200,
        description=(
            "The module or subsystem at fault, as a dotted module path or directory (e.g. "
            "'billing.invoices')."
        ),
    )
    affected_files: list[RepoPath] = Field(
        min_length=1,
        max_length=20,
        description=(
            "Repository-relative paths of the files the fix will most likely touch; each one verified to "
            "exist."
        ),
    )
    acceptance_criteria: list[Line] = Field(
        min_length=1,
        max_length=10,
        description=(
            "Observable behaviours that must hold once the bug is fixed, one per item, each testable."
        ),
    )
    edge_cases: list[Line] = Field(
        default_factory=list,
        max_length=10,
        description=(
            "Inputs or states the fix and the tests must also handle (empty, repeated, concurrent, ...)."
        ),
    )
    summary: str = Field(
        min_length=10,
        max_length=2000,
        description=(
            "Two to five sentences: what is broken, for whom, and the evidence you found in the code."
        ),
    )


class FixSubmission(_Submission):
    """The fix you made in the worktree. The diff itself is taken from the worktree, not from this text."""

    root_cause: str = Field(
        min_length=10,
        max_length=2000,
        description=(
            "The defect in the code: file, function and the faulty logic, and why it produces the symptom."
        ),
    )
    explanation: str = Field(
        min_length=10,
        max_length=4000,
        description=(
            "What you changed and why it is the smallest correct fix; which tests you ran and their result."
        ),
    )
    not_done: str = Field(
        default="",
        max_length=2000,
        description=NOT_DONE,
    )


class TestSubmission(_Submission):
    """The regression tests you wrote: they fail on the current code and pass once the bug is fixed."""

    __test__: ClassVar[bool] = False  # not a pytest test class, despite its name

    test_files: list[RepoPath] = Field(
        min_length=1,
        max_length=20,
        description="Repository-relative paths of the test files you created or changed.",
    )
    test_names: list[NodeId] = Field(
        min_length=1,
        max_length=50,
        description=(
            "Node ids of the new tests, e.g. 'tests/test_x.py::test_y' or "
            "'tests/test_x.py::TestX::test_y'; each file is in test_files."
        ),
    )
    notes: str = Field(
        default="",
        max_length=2000,
        description=(
            "How the tests failed on the current code (the assertion and why it is the bug), and anything "
            "odd."
        ),
    )
    not_done: str = Field(
        default="",
        max_length=2000,
        description=NOT_DONE,
    )

    @field_validator("test_names")
    @classmethod
    def _names_in_files(cls, names: list[str], info: ValidationInfo) -> list[str]:
        """Node ids in the submitted files; a bare name (``test_rollover``) is looked up in those files
        (in the workspace given as validation context) and replaced by its node id."""
        files = list(info.data.get("test_files") or [])
        workspace = (info.context or {}).get("workspace")
        resolved: list[str] = []
        stray: list[str] = []
        for name in names:
            if "::" in name:
                ok = _relative_path(name.partition("::")[0]) in files
                resolved += [name] if ok else []
                stray += [] if ok else [name]
                continue
            found = find_tests(Path(workspace), files, name) if workspace else []
            resolved += found
            stray += [] if found else [name]
        if stray:
            raise ValueError(
                f"test_names {stray} are not tests in the submitted test_files {sorted(files)}; "
                "write each as '<one of test_files>::<test function>'"
            )
        return list(dict.fromkeys(resolved))


class PrSubmission(_Submission):
    """The pull request's title and narrative. Nightshift appends the measured facts itself."""

    title: str = Field(
        min_length=5,
        max_length=120,
        description=(
            "Imperative summary of the change; aim for 72 characters or fewer (120 is the hard limit)."
        ),
    )
    body: str = Field(
        min_length=20,
        max_length=20000,
        description="Markdown narrative: problem, suspected cause, approach, risk, how it will be verified.",
    )
