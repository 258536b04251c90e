"""The configuration package's one exception."""


class ConfigError(Exception):
    """Configuration that cannot be used; the message names the key and where it came from."""
