"""Validated configuration: one pydantic model per component, loaded from ``config/<name>.yaml``.

See :mod:`config.loader`.
"""

from config.loader import ConfigError, ListenError, config_dir, load_config

__all__ = ["ConfigError", "ListenError", "config_dir", "load_config"]
