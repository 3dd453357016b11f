"""Load one component's configuration from YAML with environment overrides.

Each component (``sip``, ``media``, ``prompts``, ``asr``, ``flows``, ``bridge`` ...) owns a pydantic model and a
file ``<name>.yaml`` in the configuration directory.  The directory is the ``config/`` folder of this project
unless ``HOTLINE_CONFIG_DIR`` names another one (operators keep their own copy there).

Environment overrides use ``HOTLINE_<NAME>__<FIELD>[__<SUBFIELD>...]=<value>``; the value is parsed as YAML so
``HOTLINE_SIP__PORT=5070`` gives an int and ``HOTLINE_BRIDGE__REDIS_URL=redis://127.0.0.1/0`` a string.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

_PACKAGE_DIR = Path(__file__).resolve().parent


class ConfigError(Exception):
    """A configuration file or override is unreadable or invalid; the message names the file and field."""


class ListenError(ConfigError):
    """A configured port cannot be listened on (taken by another process, or not allowed): one line for the
    operator naming the port, the component and the setting to change; raised where the port is bound."""

    def __init__(self, component: str, host: str, port: int, error: BaseException | None, setting: str) -> None:
        self.component, self.host, self.port = component, host, port
        if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
            text = f"端口 {port} 已被占用 ({component}, {host}): another hotline running? stop it or change {setting}"
        else:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            text = f"cannot listen on {host}:{port} ({component}): {reason}; change {setting}"
        super().__init__(text)


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    override = env.get("HOTLINE_CONFIG_DIR")
    return Path(override) if override else _PACKAGE_DIR


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def _apply_env(data: dict[str, Any], name: str, env: Mapping[str, str]) -> list[str]:
    prefix = f"HOTLINE_{name.upper()}__"
    used = []
    for key, raw in env.items():
        if not key.startswith(prefix):
            continue
        parts = [p.lower() for p in key[len(prefix) :].split("__") if p]
        if not parts:
            continue
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
        used.append(key)
    return used


def load_config(
    model: type[M],
    name: str,
    *,
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> M:
    """Load ``<name>.yaml`` (or ``path``) into ``model``, apply env overrides, validate.

    Raises :class:`ConfigError` with the file and the failing fields; never returns a half-valid object.
    """
    env = os.environ if env is None else env
    file = path if path is not None else config_dir(env) / f"{name}.yaml"
    data = _read_yaml(file)
    used = _apply_env(data, name, env)
    if overrides:
        data.update(overrides)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        src = f"{file}" + (f" (with {', '.join(used)})" if used else "")
        raise ConfigError(f"{src}: {problems}") from exc
