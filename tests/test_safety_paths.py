"""Workspace path scoping: every way out (.., absolute, ~, NUL, symlinks) is refused with a clear reason."""

from pathlib import Path

import pytest

from safety import PathEscape, resolve_in_workspace, workspace_relative


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """workspace/ with src/app.py and links; outside/secret.txt next to it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s3cr3t\n")
    root = tmp_path / "workspace"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("print('app')\n")
    (root / "secret_link").symlink_to(outside / "secret.txt")
    (root / "outside_dir").symlink_to(outside)
    (root / "src" / "relative_out").symlink_to(Path("..") / ".." / "outside")
    (root / "dangling").symlink_to(outside / "not_yet.txt")
    (root / "app_link").symlink_to(root / "src" / "app.py")
    (root / "src_link").symlink_to(Path("src"))
    return root


ESCAPES = [
    pytest.param("../outside/secret.txt", "via '..'", id="dotdot-escape"),
    pytest.param("src/../../outside/secret.txt", "via '..'", id="dotdot-escape-after-subdir"),
    pytest.param("..", "via '..'", id="parent-itself"),
    pytest.param("/etc/passwd", "absolute path", id="absolute-path"),
    pytest.param("//etc/passwd", "absolute path", id="double-slash-absolute"),
    pytest.param("~", "home directory", id="tilde"),
    pytest.param("~/.ssh/id_rsa", "home directory", id="tilde-path"),
    pytest.param("~root/.bashrc", "home directory", id="tilde-user"),
    pytest.param("src/app.py\x00.txt", "NUL byte", id="nul-byte"),
    pytest.param("secret_link", "through a symlink", id="symlinked-file-pointing-out"),
    pytest.param("outside_dir/secret.txt", "through a symlink", id="symlinked-dir-pointing-out"),
    pytest.param("outside_dir/new.txt", "through a symlink", id="new-file-under-symlinked-dir"),
    pytest.param("src/relative_out/secret.txt", "through a symlink", id="relative-symlink-in-subdir"),
    pytest.param("dangling", "through a symlink", id="dangling-symlink-pointing-out"),
]


@pytest.mark.parametrize(("path", "reason"), ESCAPES)
def test_paths_leading_out_of_the_workspace_are_refused(workspace: Path, path: str, reason: str) -> None:
    with pytest.raises(PathEscape) as refused:
        resolve_in_workspace(workspace, path)
    message = str(refused.value)
    assert reason in message and repr(path) in message


INSIDE = [
    pytest.param("src/app.py", "src/app.py", id="plain-file"),
    pytest.param("./src/app.py", "src/app.py", id="dot-slash"),
    pytest.param("src/../src/app.py", "src/app.py", id="dotdot-staying-inside"),
    pytest.param("app_link", "src/app.py", id="symlink-inside-pointing-inside"),
    pytest.param("src_link/app.py", "src/app.py", id="symlinked-dir-inside"),
    pytest.param("new/dir/file.py", "new/dir/file.py", id="new-file-in-new-subdir"),
    pytest.param(".", ".", id="workspace-itself"),
    pytest.param("", ".", id="empty-means-workspace"),
]


@pytest.mark.parametrize(("path", "relative"), INSIDE)
def test_paths_inside_resolve_to_the_real_file(workspace: Path, path: str, relative: str) -> None:
    resolved = resolve_in_workspace(workspace, path)
    assert resolved.is_absolute()
    assert resolved == (workspace.resolve() / relative).resolve()
    assert workspace_relative(workspace, resolved) == relative


def test_a_new_file_can_be_created_where_the_check_says(workspace: Path) -> None:
    target = resolve_in_workspace(workspace, "pkg/sub/mod.py")
    target.parent.mkdir(parents=True)
    target.write_text("x = 1\n")
    assert (workspace / "pkg" / "sub" / "mod.py").read_text() == "x = 1\n"


def test_hostile_paths_never_reach_outside_files(workspace: Path, tmp_path: Path) -> None:
    """A write tool that resolves first changes nothing outside, whatever path it is given."""
    outside = tmp_path / "outside"
    before = {p.name: p.read_bytes() for p in outside.iterdir()}
    for param in ESCAPES:
        try:
            resolve_in_workspace(workspace, str(param.values[0])).write_text("pwned")
        except PathEscape:
            pass
    assert {p.name: p.read_bytes() for p in outside.iterdir()} == before


def test_workspace_given_through_a_symlink_works(workspace: Path, tmp_path: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(workspace)
    assert resolve_in_workspace(alias, "src/app.py") == workspace.resolve() / "src" / "app.py"
    with pytest.raises(PathEscape):
        resolve_in_workspace(alias, "secret_link")


def test_workspace_relative_refuses_paths_outside(workspace: Path, tmp_path: Path) -> None:
    with pytest.raises(PathEscape, match="not inside the workspace"):
        workspace_relative(workspace, tmp_path / "outside" / "secret.txt")
