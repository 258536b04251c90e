"""An alert's frames mapped onto a real git repository at its base commit: deploy prefixes and
site-packages stripped, a src layout found by the path's tail, a changed line said, and a frame whose
file is not in the repository left unmapped, never pointed at a look-alike."""

from pathlib import Path

from demo.alerts import capture_sentry_event, sentry_event_alert
from demo.playground import create_repo
from documents.alerts import Alert, StackFrame
from gitrepo import GitRepo
from integrations.github import blob_url
from integrations.sentry import alert_from_event
from tests.git_fixtures import ISOLATED_ENV
from workflow.frames import candidates, map_frames

SERVICE = """\
def complete(todo_id):
    todo = get(todo_id)
    return todo


def get(todo_id):
    raise KeyError(todo_id)
"""


def frame(path: str, line: int, captured: str | None = None, relative: str | None = None) -> StackFrame:
    """A frame that ran at ``path`` (with the path below its import root, as Python's SDK gives it)."""
    context = [(line, captured)] if captured else []
    return StackFrame(filename=relative or path, abs_path=path, lineno=line, function="f", context=context)


async def mapped(
    tmp_path: Path, files: dict[str, str], *frames: StackFrame, prefixes: tuple[str, ...] = ()
) -> Alert:
    playground = create_repo(tmp_path / "p", files)
    repo = GitRepo(playground.repo, env=ISOLATED_ENV)
    base = await repo.resolve("HEAD")
    alert = Alert(source="sentry", subject="1", title="KeyError: 7", frames=list(frames))
    line_url = lambda path, line: blob_url("https://api.github.com", "acme/todo", base, path, line)  # noqa: E731
    return await map_frames(alert, repo, base, prefixes=prefixes, line_url=line_url)


async def test_deploy_prefixes_and_site_packages_are_stripped_and_a_src_layout_is_found(
    tmp_path: Path,
) -> None:
    files = {"src/todo/service.py": SERVICE, "README.md": "# todo\n"}
    alert = await mapped(
        tmp_path,
        files,
        frame("/srv/app/releases/1.4.0/todo/service.py", 2, "    todo = get(todo_id)"),
        frame("/opt/venv/lib/python3.11/site-packages/todo/service.py", 7, "    raise KeyError(todo_id)"),
    )
    assert [f.repo_path for f in alert.frames] == ["src/todo/service.py", "src/todo/service.py"]
    assert alert.frames[0].url is not None and alert.frames[0].url.startswith(
        "https://github.com/acme/todo/blob/"
    )
    assert alert.frames[0].url.endswith("/src/todo/service.py#L2")
    assert all(f.drift is None and f.unmapped is None for f in alert.frames)
    assert alert.mapped_at is not None


async def test_a_frame_whose_file_is_not_in_the_repository_is_unmapped(tmp_path: Path) -> None:
    files = {"todo/service.py": SERVICE, "handlers.py": "# an unrelated module of the same name\n"}
    alert = await mapped(
        tmp_path,
        files,
        frame(
            "/srv/app/app/views/handlers.py", 10, relative="app/views/handlers.py"
        ),  # only its name matches
        frame("/srv/app/gone/module.py", 3),
        frame("/srv/app/todo/service.py", 2, "    todo = get(todo_id)"),
    )
    handler, gone, service = alert.frames
    assert handler.repo_path is None and handler.url is None
    assert handler.unmapped is not None and handler.unmapped.startswith("not in the repository at ")
    assert handler.where == "/srv/app/app/views/handlers.py:10"
    assert gone.repo_path is None and service.repo_path == "todo/service.py"


async def test_an_ambiguous_tail_stays_unmapped_and_a_prefix_decides(tmp_path: Path) -> None:
    files = {"api/todo/service.py": SERVICE, "worker/todo/service.py": SERVICE}
    ambiguous = await mapped(tmp_path / "a", files, frame("/deploy/todo/service.py", 2))
    assert ambiguous.frames[0].repo_path is None
    chosen = await mapped(
        tmp_path / "b", files, frame("/deploy/worker/todo/service.py", 2), prefixes=("/deploy/",)
    )
    assert chosen.frames[0].repo_path == "worker/todo/service.py"


async def test_a_line_that_reads_otherwise_at_the_base_commit_is_said(tmp_path: Path) -> None:
    alert = await mapped(
        tmp_path,
        {"todo/service.py": SERVICE},
        frame("/srv/todo/service.py", 2, "    todo = get_or_create(todo_id)"),
        frame("/srv/todo/service.py", 99, "    return None"),
    )
    changed, past_end = alert.frames
    assert changed.repo_path == "todo/service.py" and changed.drift is not None
    assert "reads 'todo = get(todo_id)'" in changed.drift
    assert past_end.drift is not None and "past the end" in past_end.drift


def test_candidates_try_the_most_specific_path_first() -> None:
    deployed = frame("/srv/app/releases/7/src/todo/service.py", 1, relative="todo/service.py")
    assert candidates(deployed, ["/srv/app/releases/7/"]) == [
        "src/todo/service.py",
        "todo/service.py",
        "srv/app/releases/7/src/todo/service.py",
        "app/releases/7/src/todo/service.py",
        "releases/7/src/todo/service.py",
        "7/src/todo/service.py",
    ]
    assert candidates(frame("C:\\deploy\\todo\\service.py", 1))[-1] == "todo/service.py"


async def test_a_real_sentry_capture_maps_onto_the_sample_repository(tmp_path: Path) -> None:
    from demo.playground import create_playground

    payload = sentry_event_alert(capture_sentry_event(7))
    alert = alert_from_event(payload["data"]["event"], subject="4242")
    assert [f.function for f in alert.frames] == ["complete_todo", "complete", "get"]  # in-app only
    playground = create_playground(tmp_path / "p")
    repo = GitRepo(playground.repo, env=ISOLATED_ENV)
    result = await map_frames(alert, repo, await repo.resolve("HEAD"))
    handler, complete, get = result.frames
    assert handler.repo_path is None  # the deployed handler is not part of the repository
    assert (complete.repo_path, complete.lineno, complete.drift) == ("todo/service.py", 55, None)
    assert (get.repo_path, get.line) == ("todo/service.py", "            raise TodoNotFound(todo_id)")
