"""The error type for problems a user can fix (bad input, bad config, missing network)."""


class UserError(Exception):
    """An error whose message alone tells the user what to fix; no traceback is shown for it."""


class ConfigError(UserError, ValueError):
    """The configuration does not match the schema or refers to undefined names."""
