"""Reading a config file: bytes → YAML → ``${VAR}`` → validated ``Config``, or one clear error.

Every problem is reported as (key path, what is wrong) in a ``ConfigError`` that names the file:
a file that is not UTF-8 (with the byte offset), YAML that does not parse (with the line), a key
written twice in one mapping (both lines: YAML would silently keep the last), an unset
environment variable, an unknown key (with the nearest known one), a bad value (echoed, unless
it came from the environment, where it may be a secret), ids that refer to nothing. A file with
nothing in it is refused: it would start a service that watches nothing.

A relative ``templates:`` folder is relative to the config file, so a config and its templates
can move together; it must exist.

Every secret a valid config holds (channel URLs' path and query, passwords, secrets, tokens, a
feed's query) is registered with ``logs`` as it is read, so no log line can show it.
"""

from __future__ import annotations

import difflib
import os
import re
import secrets
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from watcher import logs
from watcher.config import advice
from watcher.config.model import Config
from watcher.config.sources import FeedSourceConfig
from watcher.errors import ConfigError

_SECRET_WORDS = ("password", "secret", "token")


@dataclass(frozen=True)
class Loaded:
    """A valid config and the advice about it, as ``read`` found them."""

    config: Config
    warnings: tuple[advice.ConfigWarning, ...] = ()


def load(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Read, interpolate and validate a config file. Raises ``ConfigError``."""
    return read(path, env).config


def parse(text: str, name: str, env: Mapping[str, str]) -> Config:
    """``load`` for text already read; ``name`` is the file it came from."""
    return read_text(text, name, env).config


def read(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Loaded:
    """``load``, with the advice about the config as well."""
    name = os.fspath(path)
    try:
        raw = Path(name).read_bytes()
    except FileNotFoundError:
        raise ConfigError(name, [("", "file not found (set --config or WATCHER_CONFIG)")]) from None
    except OSError as exc:
        raise ConfigError(name, [("", f"cannot read: {exc.strerror or exc}")]) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            name,
            [
                (
                    "",
                    f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start} "
                    f"(line {line}) cannot be decoded; save the file as UTF-8",
                )
            ],
        ) from None
    return read_text(text, name, os.environ if env is None else env)


def read_text(text: str, name: str, env: Mapping[str, str]) -> Loaded:
    """``read`` for text already read."""
    data = _yaml(text, name)
    if data is None or data == {}:
        raise ConfigError(
            name,
            [
                (
                    "",
                    "nothing to watch: the file is empty or holds only comments "
                    "(start from config/watcher.example.yaml)",
                )
            ],
        )
    if not isinstance(data, dict):
        raise ConfigError(name, [("", "the top level must be a mapping of keys")])
    quoted = advice.double_quoted_queries(data)
    problems: list[tuple[str, str]] = []
    values = _interpolate(data, "", env, problems)
    if "data_dir" not in values and env.get("WATCHER_DATA_DIR"):
        values["data_dir"] = env["WATCHER_DATA_DIR"]
    if problems:
        raise ConfigError(name, problems)
    try:
        synonyms = values.get("synonyms")
        config = Config.model_validate(
            values, context={"synonyms": synonyms if isinstance(synonyms, dict) else None}
        )
    except ValidationError as exc:
        raise ConfigError(name, [_describe(e, values, data) for e in exc.errors()]) from exc
    _register_secrets(config)
    problems = config.reference_problems()
    config = _resolve_templates(config, name, problems)
    if problems:
        raise ConfigError(name, problems)
    return Loaded(config, advice.warnings(config, quoted))


def _register_secrets(config: Config) -> None:
    """Tell the log filter every secret the config holds (``logs.register_secret``): each
    channel's URLs' path and query, its passwords, secrets and tokens (and header values), a
    feed's query (a private feed's key), the store's password, ``secret_key``."""
    for channel in config.channels:
        _register_fields(channel)
    for source in config.sources:
        if isinstance(source, FeedSourceConfig):
            logs.register_secret(urlsplit(source.url).query)
    logs.register_secret(urlsplit(config.store_url).password)
    if config.secret_key is not None:
        logs.register_secret(config.secret_key.get_secret_value())


def _register_fields(model: BaseModel) -> None:
    for name, value in model:
        _register_value(value, name)


def _register_value(value: Any, field: str) -> None:
    if isinstance(value, BaseModel):
        _register_fields(value)
    elif isinstance(value, dict):
        for v in value.values():
            _register_value(v, field)
    elif isinstance(value, list | tuple):
        for v in value:
            _register_value(v, field)
    elif isinstance(value, SecretStr):
        logs.register_secret(value.get_secret_value())
    elif isinstance(value, logs.SecretUrl | str):
        if field.lower().endswith(("url", "urls")):
            logs.register_url(value)
        elif any(word in field.lower() for word in (*_SECRET_WORDS, "headers")):
            logs.register_secret(value if isinstance(value, str) else value.get_secret_value())


# --- YAML ----------------------------------------------------------------------------------


class _DoubleQuoted(str):
    """A string the file wrote in double quotes, where YAML has already taken the quotes off."""

    __slots__ = ()


class _Loader(yaml.SafeLoader):
    """The safe loader, noting keys written twice in one mapping and double-quoted strings."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[object, int, int]] = []  # key, first line, second line

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[object, int] = {}
            for key_node, _value in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *defaults` overrides on purpose
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    first = seen.setdefault(key, line)
                except TypeError:  # an unhashable key: YAML itself refuses it below
                    continue
                if first != line:
                    self.duplicates.append((key, first, line))
        return super().construct_mapping(node, deep=deep)


def _string(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    value = loader.construct_scalar(node)  # type: ignore[arg-type]
    assert isinstance(value, str)
    return _DoubleQuoted(value) if getattr(node, "style", None) == '"' else value


_Loader.add_constructor("tag:yaml.org,2002:str", _string)


def _restored(value: Any, placeholder: re.Pattern[str], tokens: list[str]) -> Any:
    """``value`` with each placeholder ``_yaml`` put in the text back as the token it was."""
    if isinstance(value, str):
        if placeholder.search(value) is None:
            return value
        back = placeholder.sub(lambda m: tokens[int(m.group(1))], value)
        return _DoubleQuoted(back) if isinstance(value, _DoubleQuoted) else back
    if isinstance(value, dict):
        return {
            _restored(k, placeholder, tokens): _restored(v, placeholder, tokens)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_restored(v, placeholder, tokens) for v in value]
    return value


def _yaml(text: str, name: str) -> Any:
    # ``${VAR}`` may stand where YAML reads ``{`` as the start of a mapping (in a flow mapping:
    # ``{id: email, host: ${SMTP_HOST}}``), so each is read as a placeholder of letters and
    # digits, valid anywhere, and put back once the text is parsed; ``_interpolate`` then
    # replaces it as before.
    stand_in = f"WATCHERENV{secrets.token_hex(4)}N"
    tokens: list[str] = []

    def protect(match: re.Match[str]) -> str:
        tokens.append(match.group(0))
        return f"{stand_in}{len(tokens) - 1}X"

    loader = _Loader(advice.ENV_VAR.sub(protect, text))
    try:
        data = _restored(loader.get_single_data(), re.compile(rf"{stand_in}(\d+)X"), tokens)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(
            name, [("", f"{where}not valid YAML: {getattr(exc, 'problem', None) or exc}")]
        ) from exc
    finally:
        loader.dispose()
    if loader.duplicates:
        raise ConfigError(
            name,
            [
                (
                    "",
                    f"line {second}: key {key!r} is written twice in one mapping (first on "
                    f"line {first}); YAML would keep only the last, so remove one",
                )
                for key, first, second in loader.duplicates
            ],
        )
    return data


# --- ${VAR} --------------------------------------------------------------------------------


def _interpolate(
    value: Any, path: str, env: Mapping[str, str], problems: list[tuple[str, str]]
) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, _join(path, str(k)), env, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, f"{path}[{i}]", env, problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(m: typing.Match[str]) -> str:
        var, default = m.group(1), m.group(2)
        if var in env:
            return env[var]
        if default is not None:
            return default
        problems.append((path, f"environment variable {var} is not set"))
        return ""

    return advice.ENV_VAR.sub(sub, str(value))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --- what went wrong -----------------------------------------------------------------------


def _describe(error: Any, data: Any, raw: Any) -> tuple[str, str]:
    """A pydantic error as (key path, problem), with list items named by index, the bad value
    echoed and, for an unknown key, the nearest known one."""
    path = ""
    node, raw_node = data, raw
    keys: list[str | int] = []
    for part in error["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            raw_node = (
                raw_node[part] if isinstance(raw_node, list) and 0 <= part < len(raw_node) else None
            )
            keys.append(part)
            continue
        if isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue  # a discriminated union names the kind in the location; it is not a key
        path = _join(path, part)
        node = node.get(part) if isinstance(node, dict) else None
        raw_node = raw_node.get(part) if isinstance(raw_node, dict) else None
        keys.append(part)
    kind, msg = error["type"], str(error["msg"])
    if kind == "extra_forbidden":
        unknown = str(keys[-1]) if keys else ""
        known = _known_keys(error["loc"])
        close = difflib.get_close_matches(unknown, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
        return path, f"unknown key {unknown!r} ({hint})"
    if kind == "missing":
        return path, "required key is missing"
    if kind == "union_tag_invalid":
        ctx = error["ctx"]
        return path, f"unknown kind {ctx['tag']!r} (expected {ctx['expected_tags']})"
    if kind == "union_tag_not_found":
        return path, "required key 'kind' is missing"
    msg = msg.removeprefix("Value error, ")
    return path, msg + _echo(path, error.get("input"), raw_node, msg)


def _echo(path: str, value: Any, raw: Any, msg: str) -> str:
    """The bad value, for a message that does not show it yet; never a secret."""
    if isinstance(raw, str) and advice.ENV_VAR.search(raw):
        return f" (from {raw.strip()})"  # the environment's value may be a secret
    if any(word in path.lower() for word in _SECRET_WORDS):
        return ""
    if path.startswith("channels") and path.lower().endswith("url") and isinstance(value, str):
        return f" (got {logs.masked_url(value)})"  # a webhook URL is its own credential
    if not isinstance(value, str | int | float | bool) or repr(value) in msg:
        return ""
    return f" (got {value!r})"


def _known_keys(loc: tuple[str | int, ...]) -> list[str]:
    """The keys the mapping at ``loc[:-1]`` may hold, by walking the models down ``loc``."""
    models: list[type[BaseModel]] = [Config]
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        inner = [
            found
            for model in models
            if part in model.model_fields
            for found in _models_in(model.model_fields[part].annotation)
        ]
        # Not a field: the kind that a discriminated union put in the location.
        models = inner or [m for m in models if part in _kinds(m)]
    names = {field.alias or name for model in models for name, field in model.model_fields.items()}
    return sorted(names)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _kinds(model: type[BaseModel]) -> tuple[Any, ...]:
    field = model.model_fields.get("kind")
    return typing.get_args(field.annotation) if field is not None else ()


def _resolve_templates(config: Config, name: str, problems: list[tuple[str, str]]) -> Config:
    if config.templates is None:
        return config
    folder = Path(config.templates).expanduser()
    if not folder.is_absolute():
        folder = Path(name).parent / folder
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        problems.append(
            (
                "templates",
                f"{config.templates!r} {what} (looked for {folder}; a relative path is "
                "relative to the config file; `watcher templates export DIR` writes the "
                "built-in templates to start from)",
            )
        )
        return config
    return config.model_copy(update={"templates": str(folder)})
