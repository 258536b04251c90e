"""What Slack sends us, whichever door it came through: the HTTP webhooks
(``server.routers.webhooks.slack``) or Socket Mode (``socket_mode``). ``inbound`` handles the commands
and interactions for both; ``clicks`` is what a click does once it is acknowledged."""
