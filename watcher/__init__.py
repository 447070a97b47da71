"""watcher: notices new and changed UK Parliament written answers, matches subscribers' rules
and sends digests. The data flow is drawn in ``watcher.pipeline``."""

__version__ = "0.1.0"
