"""One loader for every INI file martlet reads.

Each component declares a section as a frozen dataclass whose fields are the
keys, with their types and named defaults::

    @dataclass(frozen=True)
    class StorageSection:
        devices: str = "/srv/node"
        bind_port: int = 6200

    cfg = load_config("etc/storage.conf")
    storage = cfg.section("storage", StorageSection)

Values are converted by the field's type (str, int, float, bool, or
tuple[str, ...] from a comma-separated list). An environment variable
``MARTLET_<SECTION>_<KEY>`` (upper case) overrides a single key, so that
containers can be configured without editing files; it is applied here and
nowhere else. Any bad value raises ConfigError naming the file, section and
key. A field may carry ``metadata={"min": n}`` or ``{"choices": (...)}``.
"""

from __future__ import annotations

import configparser
import dataclasses
import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from martlet.errors import ConfigError

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on", "t", "y"}
_FALSE = {"0", "false", "no", "off", "f", "n"}


def env_key(section: str, key: str) -> str:
    return f"MARTLET_{section}_{key}".upper().replace("-", "_")


def is_true(value: str | None) -> bool:
    """Swift's ``config_true_value``: a true word is true, anything else
    (a false word, nonsense, nothing) false."""
    return (value or "").strip().lower() in _TRUE


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _convert(text: str, kind: Any) -> Any:
    if kind is str:
        return text
    if kind is bool:
        return parse_bool(text)
    if kind is int:
        return int(text.strip())
    if kind is float:
        return float(text.strip())
    if typing.get_origin(kind) is tuple:
        return tuple(part.strip() for part in text.split(",") if part.strip())
    raise TypeError(f"unsupported config field type {kind!r}")


class ConfigFile:
    """The parsed contents of one INI file (or none), plus the environment."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.path = str(path) if path is not None else "<defaults>"
        self.environ = os.environ if environ is None else environ
        self.parser = configparser.ConfigParser(interpolation=None)
        if path is not None:
            try:
                with open(path, encoding="utf-8") as handle:
                    self.parser.read_file(handle)
            except OSError as exc:
                raise ConfigError(f"{self.path}: cannot read config: {exc.strerror}") from None
            except configparser.Error as exc:
                raise ConfigError(f"{self.path}: malformed config: {exc}") from None

    def has_section(self, name: str) -> bool:
        return self.parser.has_section(name)

    def raw(self, section: str) -> dict[str, str]:
        """The section's keys as strings, before typing (e.g. [auth] users)."""
        if not self.parser.has_section(section):
            return {}
        return dict(self.parser.items(section))

    def value(self, section: str, key: str) -> str | None:
        """One key's text with its environment override applied (None:
        absent), for a caller that needs a key or two of another role's
        file without that role's section class."""
        return self._lookup(section, key)

    def section(self, name: str, cls: type[T]) -> T:
        """Build the typed dataclass ``cls`` from section ``name``."""
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls!r} is not a dataclass")
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            text = self._lookup(name, field.name)
            if text is None:
                continue
            where = f"{self.path}: [{name}] {field.name}"
            try:
                value = _convert(text, hints[field.name])
            except ValueError as exc:
                raise ConfigError(f"{where}: invalid value {text!r} ({exc})") from None
            _check_bounds(where, value, field.metadata)
            values[field.name] = value
        try:
            return cls(**values)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{self.path}: [{name}] {exc}") from None

    def _lookup(self, section: str, key: str) -> str | None:
        override = self.environ.get(env_key(section, key))
        if override is not None:
            return override
        if self.parser.has_option(section, key):
            return self.parser.get(section, key)
        return None


def _check_bounds(where: str, value: Any, metadata: Mapping[str, Any]) -> None:
    minimum = metadata.get("min")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{where}: must be at least {minimum}, got {value!r}")
    choices = metadata.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(f"{where}: must be one of {', '.join(map(str, choices))}, got {value!r}")


def load_config(
    path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None
) -> ConfigFile:
    """Read ``path`` (None: defaults and environment only)."""
    return ConfigFile(path, environ)


def resolve_relative(config: ConfigFile, value: str) -> Path:
    """A path from a config value; relative ones are taken from the file's folder."""
    candidate = Path(value)
    if candidate.is_absolute() or config.path == "<defaults>":
        return candidate
    return Path(config.path).resolve().parent / candidate
