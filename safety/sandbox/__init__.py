"""The sandbox: every process that runs repository or agent code starts here (bubblewrap).

The test tool, the shell tool, every verification phase and the environment set-up run through
``Sandbox.run``; nothing else in Nightshift starts repository or agent code. ``Sandbox.create`` finds a
usable ``bwrap`` and starts one sandbox to prove the kernel allows it; where it cannot, it raises
``SandboxUnavailable`` naming the fix, unless ``[safety] sandbox = "none"`` was set explicitly.

- ``runner``: ``Sandbox`` and the ``Environment`` it shows; ``mounts``: what a sandbox can see;
  ``entries``: what the environment set-up made, at its own path under /workspace;
- ``limits``: memory, processes and file size, and the watchdog; ``process``: one process group;
- ``bwrap``: finding and probing bubblewrap.
"""

from safety.sandbox.limits import Limits
from safety.sandbox.mounts import HOME, OUTPUTS, WORKSPACE
from safety.sandbox.process import ProcessRun
from safety.sandbox.runner import Access, Environment, Sandbox

__all__ = ["HOME", "OUTPUTS", "WORKSPACE", "Access", "Environment", "Limits", "ProcessRun", "Sandbox"]
