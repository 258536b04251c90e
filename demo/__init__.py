"""Local defaults for running Nightshift with no credentials: the scripted model server and demo data."""
