"""diff_files and diffstat on diffs produced by real git (and difflib) in tmp_path."""

import difflib
import subprocess
from pathlib import Path

import pytest

from documents.diffstat import diff_files, diffstat
from documents.facts import FileChange

PNG = bytes(range(256)) * 4


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one commit, then a staged change of every kind."""
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    keep = ["line 1", "-- not a file header", "line 3", "line 4"]
    (tmp_path / "keep.py").write_text("\n".join(keep) + "\n")
    (tmp_path / "old_name.py").write_text("".join(f"value_{i} = {i}\n" for i in range(20)))
    (tmp_path / "gone.txt").write_text("bye\nbye\n")
    (tmp_path / "logo.png").write_bytes(PNG)
    (tmp_path / "dir with space").mkdir()
    (tmp_path / "dir with space" / "é.py").write_text("a = 1\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")

    # keep.py: the line starting with "--" is removed, a line starting with "++" added, one changed.
    (tmp_path / "keep.py").write_text("line 1\nline 3 changed\nline 4\n++ not a header either\n")
    git(tmp_path, "mv", "old_name.py", "new_name.py")
    renamed = (tmp_path / "new_name.py").read_text().replace("value_3 = 3", "value_3 = 33")
    (tmp_path / "new_name.py").write_text(renamed)
    (tmp_path / "gone.txt").unlink()
    (tmp_path / "logo.png").write_bytes(PNG[::-1])
    (tmp_path / "new.py").write_text("x = 1\ny = 2\nz = 3\n")
    (tmp_path / "dir with space" / "é.py").write_text("a = 2\n")
    git(tmp_path, "add", "-A")
    return tmp_path


def by_path(changes: list[FileChange]) -> dict[str, FileChange]:
    return {change.path: change for change in changes}


def numstat(repo: Path, *options: str) -> dict[str, tuple[int, int] | None]:
    """git's own per-file counts (None for binary files), keyed by the new path."""
    out = git(repo, "diff", "--cached", "-M", "--numstat", "-z", *options)
    fields = out.split("\0")
    counts: dict[str, tuple[int, int] | None] = {}
    i = 0
    while i < len(fields) and fields[i]:
        added, removed, path = fields[i].split("\t")
        if not path:  # a rename: the old and new paths follow as separate fields
            path, i = fields[i + 2], i + 3
        else:
            i += 1
        counts[path] = None if added == "-" else (int(added), int(removed))
    return counts


def test_real_git_diff_gives_every_file_with_its_kind_and_counts(repo: Path) -> None:
    changes = by_path(diff_files(git(repo, "diff", "--cached", "-M")))

    assert set(changes) == {"keep.py", "new_name.py", "gone.txt", "logo.png", "new.py", "dir with space/é.py"}
    assert changes["new_name.py"].status == "renamed"
    assert changes["new_name.py"].old_path == "old_name.py"
    assert changes["gone.txt"].status == "deleted"
    assert (changes["gone.txt"].added, changes["gone.txt"].removed) == (0, 2)
    assert changes["new.py"].status == "added"
    assert changes["logo.png"].binary
    assert changes["keep.py"].status == "modified"
    # The removed "-- ..." line and the added "++ ..." line are counted, not read as headers.
    assert (changes["keep.py"].added, changes["keep.py"].removed) == (2, 2)
    for path, counts in numstat(repo).items():
        change = changes[path]
        assert (None if change.binary else (change.added, change.removed)) == counts, path


def test_binary_patch_and_quoted_paths_are_read(repo: Path) -> None:
    git(repo, "config", "core.quotepath", "true")  # é is written as "\303\251" in quotes
    diff = git(repo, "diff", "--cached", "-M", "--binary")
    assert "GIT binary patch" in diff and '"a/dir with space/\\303\\251.py"' in diff

    changes = by_path(diff_files(diff))

    assert changes["logo.png"].binary
    assert (changes["dir with space/é.py"].added, changes["dir with space/é.py"].removed) == (1, 1)
    assert len(changes) == 6


def test_diffstat_lines_show_path_and_counts(repo: Path) -> None:
    text = diffstat(diff_files(git(repo, "diff", "--cached", "-M")))
    lines = text.splitlines()

    assert any(line.startswith("old_name.py => new_name.py") and line.endswith("| +1 -1") for line in lines)
    assert any(line.startswith("logo.png") and line.endswith("| binary") for line in lines)
    assert any(line.startswith("new.py") and line.endswith("| +3 -0 (new)") for line in lines)
    assert any(line.startswith("gone.txt") and line.endswith("| +0 -2 (deleted)") for line in lines)
    assert lines[-1] == "6 files changed, 7 insertions(+), 6 deletions(-)"
    assert len({line.index("|") for line in lines[:-1]}) == 1  # the columns line up
    assert diffstat([]) == "no files changed"


def test_plain_unified_diff_without_git_headers() -> None:
    before = ["a\n", "b\n", "c\n"]
    diff = "".join(difflib.unified_diff(before, ["a\n", "B\n", "c\n", "d\n"], "a/one.py", "b/one.py"))
    diff += "".join(difflib.unified_diff(before, before[:2], "a/two.py", "b/two.py"))

    assert diff_files(diff) == [
        FileChange(path="one.py", added=2, removed=1),
        FileChange(path="two.py", added=0, removed=1),
    ]


def test_copies_pure_renames_and_paths_with_b_slash_in_them(tmp_path: Path) -> None:
    """The shapes unidiff alone gets wrong: a folder called "plan b" (git's header is then ambiguous but
    for the same path twice), a rename into it, a copy, a rename without a change, a mode change."""
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / "plan b").mkdir()
    (tmp_path / "plan b" / "steps.py").write_text("one = 1\ntwo = 2\n")
    (tmp_path / "moved.py").write_text("".join(f"line_{i} = {i}\n" for i in range(20)))
    (tmp_path / "settings.py").write_text("".join(f"option_{i} = {i}\n" for i in range(20)))
    (tmp_path / "same.py").write_text("kept = True\n")
    (tmp_path / "run.sh").write_text("echo hi\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")

    (tmp_path / "plan b" / "steps.py").write_text("one = 1\ntwo = 22\nthree = 3\n")
    git(tmp_path, "mv", "moved.py", "plan b/moved.py")
    moved = (tmp_path / "plan b" / "moved.py").read_text().replace("line_5 = 5", "line_5 = 55")
    (tmp_path / "plan b" / "moved.py").write_text(moved)
    (tmp_path / "settings_copy.py").write_text((tmp_path / "settings.py").read_text())
    git(tmp_path, "mv", "same.py", "renamed.py")
    (tmp_path / "run.sh").chmod(0o755)
    git(tmp_path, "add", "-A")

    diff = git(tmp_path, "diff", "--cached", "-M", "-C", "--find-copies-harder")
    changes = by_path(diff_files(diff))

    kinds = {path: (change.status, change.old_path) for path, change in changes.items()}
    assert kinds == {
        "plan b/steps.py": ("modified", None),
        "plan b/moved.py": ("renamed", "moved.py"),
        "settings_copy.py": ("copied", "settings.py"),
        "renamed.py": ("renamed", "same.py"),
        "run.sh": ("modified", None),
    }
    assert (changes["run.sh"].added, changes["run.sh"].removed) == (0, 0)
    for path, counts in numstat(tmp_path, "-C", "--find-copies-harder").items():
        assert (changes[path].added, changes[path].removed) == counts, path
    lines = diffstat(diff_files(diff)).splitlines()
    assert any(line.startswith("moved.py => plan b/moved.py") and line.endswith("| +1 -1") for line in lines)
    copy = "settings.py => settings_copy.py"
    assert any(line.startswith(copy) and line.endswith("| +0 -0 (copy)") for line in lines)


def test_text_that_is_not_a_diff_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="not a unified diff"):
        diff_files("--- a/one.py\n@@ -1 +1 @@\n-a\n+b\n")
