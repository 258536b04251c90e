"""Wheels made on this machine, offline: a tiny package of our own, and installed distributions
repacked as wheels, so that a test's environment set-up can run ``pip install --no-index
--find-links DIR`` with no package index at all."""

import base64
import hashlib
import importlib.metadata as metadata
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from packaging.requirements import Requirement

_INSTALL_RECORDS = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "WHEEL"})
"""What pip wrote when it installed a distribution: not part of the wheel it came from."""


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write_wheel(dest: Path, name: str, version: str, files: Mapping[str, bytes], meta: str = "") -> Path:
    """A pure-Python wheel of ``files`` (archive path -> content) in ``dest``."""
    dist_info = f"{name.replace('-', '_')}-{version}.dist-info"
    contents = dict(files)
    contents[f"{dist_info}/METADATA"] = (
        meta or f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    ).encode()
    contents[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: nightshift-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = [_record_line(path, data) for path, data in contents.items()] + [f"{dist_info}/RECORD,,"]
    contents[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = dest / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in contents.items():
            archive.writestr(path, data)
    return wheel


def repack(dest: Path, names: Iterable[str]) -> list[Path]:
    """Wheels of the installed distributions ``names`` and everything they require, from their files."""
    wheels: list[Path] = []
    seen: set[str] = set()
    pending = list(names)
    while pending:
        dist = metadata.distribution(pending.pop())
        key = dist.metadata["Name"].lower()
        if key in seen:
            continue
        seen.add(key)
        files = {}
        for file in dist.files or []:
            if "__pycache__" in file.parts or file.parts[0] == ".." or file.name in _INSTALL_RECORDS:
                continue
            files[file.as_posix()] = Path(str(file.locate())).read_bytes()
        dist_info = next(name for name in files if name.split("/")[0].endswith(".dist-info")).split("/")[0]
        name = dist_info.removesuffix(f"-{dist.version}.dist-info")
        wheels.append(write_wheel(dest, name, dist.version, files, dist.read_text("METADATA") or ""))
        for requirement in map(Requirement, dist.requires or []):
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return wheels
