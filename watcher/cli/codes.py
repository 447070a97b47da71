"""Exit codes of every ``watcher`` command."""

EXIT_OK = 0  # success (warnings included)
EXIT_FAILED = 1  # a runtime failure: a source, a delivery, the store, a folder
EXIT_CONFIG = 2  # invalid configuration, usage or query
