"""Deliveries: effects on Slack, GitHub and Jira, recorded in the outbox (``store.outbox``), retried,
and never holding a run.

- ``deliverer``: claims due rows and tries them, with backoff, on every worker;
- ``door``: the one door every outbound send passes through (``DeliveryExecutor.send``).
"""
