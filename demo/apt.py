"""Debian packages the tests, the demo's PostgreSQL and the benchmarks need, installed when missing
(``apt-get``, as root, as CI runs), one install at a time.

The test suite runs in several processes (pytest-xdist), and each may find the same package missing at
the same moment. apt-get's own locks would make the second ``apt-get update`` fail rather than wait, so
the installs queue on a file lock here, and whoever comes second finds the package installed.
"""

import fcntl
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

APT_TIMEOUT_S = 600
"""How long one ``apt-get update && apt-get install`` may take; a queued install may wait for one more."""
LOCK_FILE = Path(tempfile.gettempdir()) / "nightshift-apt.lock"

Found = TypeVar("Found")


class AptUnavailable(Exception):
    """The package is missing and this machine has no apt-get to install it with."""


class AptFailed(Exception):
    """apt-get ran and the package is still missing: the reason, with apt-get's last words."""


def apt_install(package: str, find: Callable[[], Found | None]) -> Found:
    """What ``find`` finds (a path), after installing ``package`` when it finds nothing."""
    found = find()
    if found is not None:
        return found
    if shutil.which("apt-get") is None:
        raise AptUnavailable(f"{package} is not installed and apt-get is not available to install it")
    with LOCK_FILE.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when this process ends
        found = find()  # installed by whoever held the lock before
        if found is not None:
            return found
        command = f"apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=120 {package}"
        try:
            done = subprocess.run(
                ["sh", "-c", command], capture_output=True, text=True, timeout=APT_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            raise AptFailed(f"`{command}` took more than {APT_TIMEOUT_S}s") from None
        found = find()
        if done.returncode != 0 or found is None:
            output = (done.stderr or done.stdout).strip()[-2000:]
            raise AptFailed(
                f"{package} is missing and `{command}` failed "
                f"(exit {done.returncode}; it needs root):\n{output}"
            )
        return found
