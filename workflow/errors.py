"""The workflow package's exceptions.

::

    WorkflowError            base of everything the workflow package raises to its caller
     ├── EngineBusy          another process already executes runs from this state directory
     ├── RunNotFound         no run has that id
     └── DecisionRefused     a decision that does not fit the run's state

Every message names what was attempted and what to do about it. Git's own errors are
``gitrepo.GitError``.
"""


class WorkflowError(Exception):
    """Base of every error the workflow package raises."""


class EngineBusy(WorkflowError):
    """Another Nightshift process already executes runs from this state directory."""


class RunNotFound(WorkflowError):
    """No run has that id."""


class DecisionRefused(WorkflowError):
    """A decision that does not fit the run's state (for example: request changes with no revisions left)."""
