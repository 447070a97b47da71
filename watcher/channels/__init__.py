"""Channels by kind: the one place a configured channel becomes a working one.

``CHANNELS`` is an explicit table (no self-registering classes); adding a channel kind means a
config class in ``watcher.config``, a module here and a line in the table.

    smtp, files      email: a server, or .eml files in a folder
    slack, teams,    chat webhooks: each body of a message POSTed to the configured URL
    discord          (``web`` holds what they share, ``pacing`` their rate limits)
    webhook          signed JSON for any receiver (Standard Webhooks)
    apprise          the long tail, best effort
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from watcher.channels import discord, slack, teams
from watcher.channels.apprise import AppriseChannel
from watcher.channels.base import Channel, ChannelContext
from watcher.channels.discord import DiscordChannel
from watcher.channels.files import FilesChannel
from watcher.channels.slack import SlackChannel
from watcher.channels.smtp import SmtpChannel
from watcher.channels.teams import TeamsChannel
from watcher.channels.webhook import WebhookChannel
from watcher.config import (
    AppriseChannelConfig,
    ChannelConfig,
    DiscordChannelConfig,
    FilesChannelConfig,
    SlackChannelConfig,
    SmtpChannelConfig,
    TeamsChannelConfig,
    WebhookChannelConfig,
)

__all__ = [
    "CHANNELS",
    "AppriseChannel",
    "Channel",
    "ChannelContext",
    "DiscordChannel",
    "FilesChannel",
    "SlackChannel",
    "SmtpChannel",
    "TeamsChannel",
    "WebhookChannel",
    "min_interval",
    "open_channel",
]

Opener = Callable[[ChannelConfig, ChannelContext], Channel]
_C = TypeVar("_C")


def _given(config: ChannelConfig, kind: type[_C]) -> _C:
    if not isinstance(config, kind):
        raise TypeError(f"{kind.__name__} expected, given {type(config).__name__}")
    return config


CHANNELS: dict[str, Opener] = {
    "smtp": lambda c, _: SmtpChannel(_given(c, SmtpChannelConfig)),
    "files": lambda c, ctx: FilesChannel(_given(c, FilesChannelConfig), ctx.data_dir),
    "slack": lambda c, ctx: SlackChannel(_given(c, SlackChannelConfig), ctx),
    "teams": lambda c, ctx: TeamsChannel(_given(c, TeamsChannelConfig), ctx),
    "discord": lambda c, ctx: DiscordChannel(_given(c, DiscordChannelConfig), ctx),
    "webhook": lambda c, ctx: WebhookChannel(_given(c, WebhookChannelConfig), ctx),
    "apprise": lambda c, ctx: AppriseChannel(_given(c, AppriseChannelConfig), ctx),
}


def min_interval(config: ChannelConfig) -> timedelta:
    """The least time between two posts to ``config``'s URL: as configured, else the kind's
    default (0: no pace)."""
    given = getattr(config, "min_interval", None)
    if isinstance(given, timedelta):
        return given
    return _MIN_INTERVALS.get(config.kind, timedelta(0))


_MIN_INTERVALS = {
    "slack": slack.MIN_INTERVAL,
    "teams": teams.MIN_INTERVAL,
    "discord": discord.MIN_INTERVAL,
}


def open_channel(config: ChannelConfig, context: ChannelContext) -> Channel:
    """A channel for ``config``, opened with what ``context`` gives (``ChannelContext.of`` a
    whole config). Opening connects to nothing: the first ``send`` does."""
    return CHANNELS[config.kind](config, context)
