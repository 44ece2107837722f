"""The command line: ``logwatch`` and its sub-commands (click), the one-line errors, and the
options gathered into :class:`~logwatch.core.settings.RunSettings`.

Nothing heavy is imported at module level: ``logwatch --help`` must be instant.
"""
