"""Issue 18 item 9: secrets at rest in objects, in `ps`, and in a key file someone else owns.

`repr()` of the configuration's `Document`/`Source` held the whole TOML, inline `key =` and
`password =` included; `dataclasses.asdict(MqttSettings)` held the password; a key file was
checked for its mode but not its owner; any 20-character path was hidden as a key.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import pickle
from pathlib import Path

import pytest

from mepd.config.document import read_document
from mepd.config.keysource import SecretUnavailable, read_private_file, shown_path
from mepd.config.load import load_config
from mepd.config.overrides import Overrides, parse_mqtt_url
from mepd.settings import MqttSettings, Secret
from tests.config.helpers import write

KEY = "Zq-inline-key-0001xy"  # 20 characters: the shape of a MEP key
PASSWORD = "Zq-hunter2-password"
TOML = (
    f"[meter]\nkey = '{KEY}'\n[mqtt]\nhost = 'localhost'\nusername = 'u'\npassword = '{PASSWORD}'\n"
)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert KEY not in text
        assert PASSWORD not in text


def test_the_document_and_its_source_do_not_hold_the_toml(tmp_path: Path) -> None:
    document = read_document(write(tmp_path / "c.toml", TOML))
    assert_no_secret(
        repr(document),
        str(document),
        repr(document.source),
        str(dataclasses.asdict(document.source)),
        str(dataclasses.asdict(document)),
    )
    assert document.source.line_of(("mqtt", "password")) == 6  # still finds its lines


def test_asdict_of_the_settings_keeps_the_password_a_secret(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "c.toml", TOML), environ={})
    assert config.mqtt.password is not None
    assert config.mqtt.password.reveal() == PASSWORD
    as_dict = dataclasses.asdict(config.mqtt)
    assert isinstance(as_dict["password"], Secret)
    assert_no_secret(
        str(as_dict),
        str(dataclasses.asdict(config)),
        repr(config),
        f"{config.mqtt.password}",
        "%s" % (config.mqtt.password,),  # noqa: UP031 - the way a log line formats it
    )
    key = config.meters[0].key
    assert key is not None
    assert key.secret.hex() not in str(dataclasses.asdict(config))
    assert repr(key.secret) not in str(dataclasses.asdict(config))


def test_a_secret_survives_the_pipe_from_the_config_child_and_copies() -> None:
    secret = Secret(PASSWORD)
    assert pickle.loads(pickle.dumps(MqttSettings(password=secret))).password == secret
    assert copy.deepcopy(secret) is secret
    assert Secret("a") != Secret("b")
    assert secret != PASSWORD  # never equal to the plain text: no accidental comparisons
    with pytest.raises(AttributeError):
        secret._value = "changed"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the file to another user")
def test_a_key_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "mbk", KEY)
    os.chown(path, 65534, 65534)  # nobody
    with pytest.raises(SecretUnavailable, match=r"owned by user .*65534"):
        read_private_file(path, "meter key")


def test_a_key_file_owned_by_another_user_is_refused_without_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same check where the test cannot chown: mepd runs as 4243, the file is 4242's."""
    path = write(tmp_path / "mbk", KEY)
    monkeypatch.setattr(os, "fstat", _owned_by(4242))
    monkeypatch.setattr(os, "geteuid", lambda: 4243)
    with pytest.raises(SecretUnavailable, match=r"owned by user .*4242") as caught:
        read_private_file(path, "meter key")
    assert KEY not in str(caught.value)


def _owned_by(uid: int) -> object:
    real_fstat = os.fstat

    def fstat(descriptor: int) -> os.stat_result:
        status = list(real_fstat(descriptor))
        status[4] = uid  # st_uid
        return os.stat_result(status)

    return fstat


def test_a_key_file_owned_by_root_or_the_service_user_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "mbk", KEY)
    monkeypatch.setattr(os, "geteuid", lambda: 4243)
    for owner in (0, 4243):
        monkeypatch.setattr(os, "fstat", _owned_by(owner))
        assert read_private_file(path, "meter key") == KEY


@pytest.mark.parametrize(
    "path",
    ["/etc/mepd/mbk-meter1", "/etc/mepd/mbk-kitchen", "/var/lib/mepd/x.key"],
)
def test_a_path_is_shown_whatever_its_length(path: str) -> None:
    assert len("/etc/mepd/mbk-meter1") == 20
    assert shown_path(path) == path


def test_an_existing_file_is_shown_even_with_the_shape_of_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    name = "mbk-meter-0001.key12"  # 20 printable characters, no slash
    (tmp_path / name).write_text("x")
    assert shown_path(name) == name


@pytest.mark.parametrize("text", [KEY, f"/etc/mepd/{KEY}"])
def test_a_key_where_a_path_belongs_is_still_hidden(text: str) -> None:
    assert KEY not in shown_path(text)


def test_the_command_line_url_keeps_its_password_a_secret() -> None:
    url = parse_mqtt_url(f"mqtt://u:{PASSWORD}@broker")
    overrides = Overrides(mqtt=url)
    assert_no_secret(repr(url), str(dataclasses.asdict(url)), str(dataclasses.asdict(overrides)))
    assert url.password is not None
    assert url.password.reveal() == PASSWORD
