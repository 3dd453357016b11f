"""config/ivr.py + config/ivr.yaml: defaults, validation, env overrides; the registrar's static agents."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.ivr import IvrConfig
from config.loader import ConfigError, load_config
from ivr.engine.registrar import Binding, Registrar, aor_user


def test_shipped_yaml_loads_with_the_documented_defaults() -> None:
    config = load_config(IvrConfig, "ivr", env={})
    assert (config.host, config.port, config.transports) == ("0.0.0.0", 5060, ["udp", "tcp"])
    assert config.public_host() == "127.0.0.1"
    assert config.codecs[0] == "PCMU"
    assert "app" not in IvrConfig.model_fields  # the engine does not name the application (hotline serve --app does)


def test_an_app_setting_left_in_ivr_yaml_is_refused_with_where_it_went(tmp_path: Path) -> None:
    (tmp_path / "ivr.yaml").write_text("port: 5070\napp: ivr.wiring:build_application\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"ivr\.yaml.*'app' is no longer an ivr setting.*hotline serve --app"):
        load_config(IvrConfig, "ivr", env={"HOTLINE_CONFIG_DIR": str(tmp_path)})


def test_env_overrides_and_validation_errors() -> None:
    config = load_config(
        IvrConfig,
        "ivr",
        env={
            "HOTLINE_IVR__PORT": "5070",
            "HOTLINE_IVR__TIMERS__T1": "0.25",
            "HOTLINE_IVR__ADVERTISED_HOST": "192.0.2.5",
        },
    )
    assert (config.port, config.timers.t1, config.public_host()) == (5070, 0.25, "192.0.2.5")
    with pytest.raises(ConfigError, match="port"):
        load_config(IvrConfig, "ivr", env={"HOTLINE_IVR__PORT": "70000"})
    with pytest.raises(ConfigError, match="rtp_port_max"):
        load_config(IvrConfig, "ivr", env={"HOTLINE_IVR__RTP_PORT_MIN": "30000", "HOTLINE_IVR__RTP_PORT_MAX": "30001"})
    with pytest.raises(ConfigError, match="codecs"):
        load_config(IvrConfig, "ivr", env={"HOTLINE_IVR__CODECS": "[]"})


def test_registrar_lookup_prefers_live_bindings_over_static_agents() -> None:
    registrar = Registrar(IvrConfig(static_agents={"1001": "sip:1001@192.0.2.10:5060"}))
    assert registrar.lookup("1001", 0.0) == "sip:1001@192.0.2.10:5060"
    assert registrar.lookup("sip:1001@ivr.example", 0.0) == "sip:1001@192.0.2.10:5060"
    registrar.store.put(Binding("1001", "sip:1001@127.0.0.1:5064", expires_at=100.0))
    assert registrar.lookup("<sip:1001@127.0.0.1>", 50.0) == "sip:1001@127.0.0.1:5064"
    assert registrar.lookup("1001", 150.0) == "sip:1001@192.0.2.10:5060"  # the binding expired
    assert registrar.lookup("9999", 0.0) is None
    assert aor_user("not a uri:::") == ""


def test_contact_and_sdp_address_per_peer() -> None:
    from ivr.engine import Engine

    wildcard = Engine(IvrConfig(host="0.0.0.0"))
    assert wildcard.host_toward("127.0.0.1") == "127.0.0.1"  # the address the kernel routes from
    assert Engine(IvrConfig(host="0.0.0.0", advertised_host="192.0.2.5")).host_toward("127.0.0.1") == "192.0.2.5"
    assert Engine(IvrConfig(host="127.0.0.1")).host_toward("198.51.100.7") == "127.0.0.1"
