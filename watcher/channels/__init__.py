"""Channels by kind: the one place a configured channel becomes a working one.

``CHANNELS`` is an explicit table (no self-registering classes); adding a channel kind means a
config class in ``watcher.config``, a module here and a line in the table.
"""

from __future__ import annotations

from collections.abc import Callable

from watcher.channels.base import Channel
from watcher.channels.files import FilesChannel
from watcher.channels.smtp import SmtpChannel
from watcher.config import ChannelConfig, FilesChannelConfig, SmtpChannelConfig

__all__ = ["CHANNELS", "Channel", "FilesChannel", "SmtpChannel", "open_channel"]


def _smtp(config: ChannelConfig, data_dir: str) -> Channel:
    if not isinstance(config, SmtpChannelConfig):
        raise TypeError(f"smtp channel given {type(config).__name__}")
    return SmtpChannel(config)


def _files(config: ChannelConfig, data_dir: str) -> Channel:
    if not isinstance(config, FilesChannelConfig):
        raise TypeError(f"files channel given {type(config).__name__}")
    return FilesChannel(config, data_dir)


CHANNELS: dict[str, Callable[[ChannelConfig, str], Channel]] = {
    "smtp": _smtp,
    "files": _files,
}


def open_channel(config: ChannelConfig, data_dir: str) -> Channel:
    """A channel for ``config``; ``data_dir`` is where channels that write files default to."""
    return CHANNELS[config.kind](config, data_dir)
