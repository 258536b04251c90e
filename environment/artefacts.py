"""Artefacts the set-up built from the base commit's sources, and when a fix makes them stale.

Among what the set-up leaves below the top level of the worktree (``environment.kept``), some files
are built from sources the fix may change: an extension module compiled in place, the C that Cython
wrote next to its ``.pyx``, protobuf stubs, compiled translations. Without ``[environment] build`` the
tests run those artefacts as the base commit built them, so a fix to their sources is never compiled.

Which source built which artefact cannot be known (a ``setup.py`` may compile any file, from any
directory), so the rule goes by kind, and is deliberately broad: an artefact is stale when the fix
changes any file of a kind that artefact is built from, anywhere in the repository. Only what the
set-up made below the top level (and single files at the top) is looked at: top-level directories
such as ``.venv`` or ``node_modules`` hold installed third-party builds, not the project's own.
"""

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from documents.phrases import listed


@dataclass(frozen=True)
class Kind:
    name: str
    artefacts: tuple[str, ...]
    """File-name patterns of the artefacts."""
    sources: tuple[str, ...]
    """File-name patterns of what they are built from."""
    sources_named: str
    """What they are built from, in words."""
    rebuild: str
    """An ``[environment] build`` that usually rebuilds them."""


_BUILD_EXT = "python setup.py build_ext --inplace"
_COMPILED = ("*.c", "*.h", "*.cc", "*.cpp", "*.cxx", "*.hh", "*.hpp", "*.hxx", "*.pyx", "*.pxd", "*.pxi")
KINDS = (
    Kind(
        "extension module",
        ("*.so", "*.pyd", "*.dylib"),
        (*_COMPILED, "*.rs", "*.f", "*.f90", "*.cu"),
        "C, C++, Cython, Rust, Fortran or CUDA sources",
        _BUILD_EXT,
    ),
    Kind("C written by Cython", ("*.c", "*.cpp"), ("*.pyx", "*.pxd", "*.pxi"), "Cython sources", _BUILD_EXT),
    Kind(
        "protobuf stubs",
        ("*_pb2.py", "*_pb2_grpc.py", "*_pb2.pyi"),
        ("*.proto",),
        ".proto files",
        "make proto",
    ),
    Kind("compiled translations", ("*.mo",), ("*.po",), ".po files", "python setup.py compile_catalog"),
)


@dataclass(frozen=True)
class Stale:
    """Artefacts of one kind that a fix makes stale, and the fix's sources of that kind."""

    kind: Kind
    artefacts: list[str]
    sources: list[str]

    def sentence(self) -> str:
        return (
            f"The tests ran {listed(self.artefacts)} ({self.kind.name}) as the set-up built it from the base "
            f"commit: it is stale, because the fix changes {listed(self.sources)} and no [environment] build "
            f'rebuilds it (configure one, e.g. build = "{self.kind.rebuild}").'
        )


def artefacts(paths: Iterable[str]) -> list[str]:
    """The files among ``paths`` (worktree-relative) that are built artefacts of some kind."""
    return sorted(path for path in paths if any(_matches(path, kind.artefacts) for kind in KINDS))


def stale(built: Iterable[str], changed: Iterable[str]) -> list[Stale]:
    """The artefacts among ``built`` that ``changed`` (the fix's paths) makes stale, by kind."""
    built, changed = list(built), list(changed)
    found = []
    for kind in KINDS:
        mine = [path for path in built if _matches(path, kind.artefacts)]
        sources = [path for path in changed if _matches(path, kind.sources) and path not in built]
        if mine and sources:
            found.append(Stale(kind, mine, sources))
    return found


def would_go_stale(built: Iterable[str]) -> str | None:
    """For doctor, before any fix: which artefacts a fix to which sources would leave stale, or None."""
    built = list(built)
    kinds = [kind for kind in KINDS if any(_matches(path, kind.artefacts) for path in built)]
    if not kinds:
        return None
    named = "; ".join(f"{kind.name}: {kind.sources_named}" for kind in kinds)
    return (
        f"{listed(built)} built by the set-up from the base commit, and no [environment] build: a fix that "
        f"changes their sources ({named}) would be tested against these stale artefacts (configure one, "
        f'e.g. build = "{kinds[0].rebuild}")'
    )


def _matches(path: str, patterns: tuple[str, ...]) -> bool:
    name = PurePosixPath(path).name
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
