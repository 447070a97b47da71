"""Configuration: YAML with ``${VAR}`` secrets, parsed once into frozen, validated objects.

Nothing downstream sees a raw dict. Unknown keys and bad values are errors naming the file, the
key path (``channels[0].port``) and the problem; the CLI turns ``ConfigError`` into exit code 2.

    model.py     the shape: one frozen pydantic model per section, every value checked
    sources.py   the sources' sections, one model per kind, and their health settings
    base.py      durations as written (15m) and the frozen base model
    reading.py   file → YAML → ${VAR} → Config, and every error message
    advice.py    warnings about a valid config that probably does not do what was meant

Shape (see ``config/watcher.example.yaml`` for the documented version)::

    store, data_dir, timezone, contact, templates, sources[], channels[], synonyms{}, rules[],
    subscriptions[], operators[]
"""

from __future__ import annotations

from watcher.config.advice import ConfigWarning
from watcher.config.base import format_duration
from watcher.config.channels import (
    BUILTIN_CHANNEL,
    AppriseChannelConfig,
    ChannelConfig,
    DeliveryConfig,
    DiscordChannelConfig,
    FilesChannelConfig,
    SlackChannelConfig,
    SmtpChannelConfig,
    TeamsChannelConfig,
    WebhookChannelConfig,
)
from watcher.config.model import (
    DEFAULT_CONFIG_PATH,
    Cadence,
    Config,
    Operator,
    OperatorConfig,
    RuleConfig,
    Subscription,
    SubscriptionConfig,
)
from watcher.config.reading import Loaded, load, parse, read, read_text
from watcher.config.sources import (
    PARLIAMENT_API,
    CommitteePublicationsSourceConfig,
    FeedSourceConfig,
    HansardSourceConfig,
    NiQuestionsSourceConfig,
    ParliamentSourceConfig,
    ScottishQuestionsSourceConfig,
    SourceConfig,
    SourceHealth,
    StatementsSourceConfig,
)

__all__ = [
    "BUILTIN_CHANNEL",
    "DEFAULT_CONFIG_PATH",
    "PARLIAMENT_API",
    "AppriseChannelConfig",
    "Cadence",
    "ChannelConfig",
    "CommitteePublicationsSourceConfig",
    "Config",
    "ConfigWarning",
    "DeliveryConfig",
    "DiscordChannelConfig",
    "FeedSourceConfig",
    "FilesChannelConfig",
    "HansardSourceConfig",
    "Loaded",
    "NiQuestionsSourceConfig",
    "Operator",
    "OperatorConfig",
    "ParliamentSourceConfig",
    "RuleConfig",
    "ScottishQuestionsSourceConfig",
    "SlackChannelConfig",
    "SmtpChannelConfig",
    "SourceConfig",
    "SourceHealth",
    "StatementsSourceConfig",
    "Subscription",
    "SubscriptionConfig",
    "TeamsChannelConfig",
    "WebhookChannelConfig",
    "format_duration",
    "load",
    "parse",
    "read",
    "read_text",
]
