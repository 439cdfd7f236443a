"""No key and no password ever shows in an error message, a warning or a repr."""

from __future__ import annotations

import string
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mepd.config.keysource import looks_like_key
from mepd.config.load import load_config
from mepd.errors import ConfigError
from mepd.protocol.keys import MepKey
from tests.config.helpers import DEMO_KEY, credentials, write

# TOML literal strings ('...') take anything but a quote and a line break. The "Zq" prefix keeps
# a shrunk example (all zeros, say) from matching some other part of a message by chance.
_TEXT = string.ascii_letters + string.digits + "!#$%&()*+,-./:;<=>?@[]^_`{|}~ "
secrets = st.text(alphabet=_TEXT, min_size=6, max_size=40).map("Zq".__add__)
valid_keys = st.text(
    alphabet=string.ascii_letters + string.digits + "-_.", min_size=18, max_size=18
).map("Zq".__add__)

# Places a secret ends up by mistake; each must fail without repeating it.
MISTAKES = [
    "[meter]\nkey = '{secret}'\nkey_file = '/etc/mepd/mbk'\n",  # two key sources
    "[meter]\nkey = ['{secret}']\n",  # wrong type
    "[meter]\nkee = '{secret}'\n",  # misspelt
    "key = '{secret}'\n",  # outside [meter]
    "meter = '{secret}'\n",  # not a table
    "[[meters]]\nkey = {{ value = '{secret}' }}\n",
    "[mqtt]\npassword = '{secret}'\n",  # no username
    "[mqtt]\npasword = '{secret}'\n",
    "[mqtt]\nusername = 'u'\npassword = ['{secret}']\n",
    "[mqtt]\nusername = 'u'\npassword = '{secret}'\npassword_file = '/x'\n",
    "[mqtt.tls]\nkey = '{secret}'\n",
    "mqtt = '{secret}'\n",
]
# Places for a name or a path, which messages do show, unless it has the shape of a key.
KEY_SHAPED_MISTAKES = [
    "[meter]\nkey_file = '{secret}'\n",
    "[meter]\nkey_file = '/etc/mepd/{secret}'\n",
    "[meter]\nkey_credential = '{secret}'\n",
    "[mqtt]\nusername = 'u'\npassword_file = '{secret}'\n",
    "[mqtt]\nusername = 'u'\npassword_credential = '{secret}'\n",
    "[serial]\nport = '{secret}'\n",
]


def assert_hidden(secret: str, error: BaseException) -> None:
    for text in (str(error), repr(error)):
        assert secret not in text
        assert secret.strip() not in text
    # Nothing chained either: a traceback printer would show it.
    assert error.__cause__ is None
    context = error.__context__
    if context is not None:
        assert secret not in str(context)
        assert secret not in repr(context)


@pytest.mark.parametrize("mistake", MISTAKES)
@given(secret=secrets)
@settings(max_examples=25, deadline=None)
def test_a_misplaced_secret_is_never_repeated(mistake: str, secret: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = write(Path(directory) / "c.toml", mistake.format(secret=secret))
        with pytest.raises(ConfigError) as caught:
            load_config(path, environ={})

    assert_hidden(secret, caught.value)


@pytest.mark.parametrize("mistake", KEY_SHAPED_MISTAKES)
@given(secret=valid_keys)
@settings(max_examples=25, deadline=None)
def test_a_key_where_a_name_or_path_belongs_is_not_shown(mistake: str, secret: str) -> None:
    assert looks_like_key(secret)
    with tempfile.TemporaryDirectory() as directory:
        environ = credentials(Path(directory) / "creds", {"mbk": DEMO_KEY})
        path = write(Path(directory) / "c.toml", mistake.format(secret=secret))
        with pytest.raises(ConfigError) as caught:
            load_config(path, environ=environ)

    assert_hidden(secret, caught.value)
    assert "looks like a MEP key" in str(caught.value)


@given(secret=secrets)
@settings(max_examples=25, deadline=None)
def test_a_malformed_key_is_described_not_shown(secret: str) -> None:
    if looks_like_key(secret):
        return
    with tempfile.TemporaryDirectory() as directory:
        key_file = write(Path(directory) / "mbk", secret)
        inline = write(Path(directory) / "a.toml", f"[meter]\nkey = '{secret}'\n")
        from_file = write(Path(directory) / "b.toml", f"[meter]\nkey_file = '{key_file}'\n")
        environ = credentials(Path(directory) / "creds", {"mbk": secret})
        for path, env in ((inline, {}), (from_file, {}), (None, environ)):
            with pytest.raises(ConfigError) as caught:
                load_config(path, environ=env)
            assert_hidden(secret, caught.value)
            assert "expected 20 printable ASCII characters" in str(caught.value)


@given(key=valid_keys, password=secrets)
@settings(max_examples=25, deadline=None)
def test_a_loaded_config_never_shows_its_secrets(key: str, password: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = write(
            Path(directory) / "c.toml",
            f"[meter]\nkey = '{key}'\n[mqtt]\nhost = 'broker.example.com'\nusername = 'u'\n"
            f"password = '{password}'\n",
            0o644,  # world-readable: both warnings
        )
        config = load_config(path, environ={})

    assert config.meters[0].key == MepKey.parse(key)
    assert config.mqtt.password is not None
    assert config.mqtt.password.reveal() == password
    secret_bytes = MepKey.parse(key).secret
    for text in (
        repr(config),
        str(config),
        repr(config.meters[0]),
        repr(config.meters[0].settings()),
        repr(config.mqtt),
        *config.warnings,
    ):
        assert key not in text
        assert password not in text
        assert secret_bytes.hex() not in text
        assert repr(secret_bytes) not in text
    assert len(config.warnings) == 3  # key and password readable by others, password in clear
