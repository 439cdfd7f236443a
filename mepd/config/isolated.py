"""Loading the configuration in a forked child, so that pydantic never enters the daemon.

pydantic and the schema's validators cost a long-running `mepd run` about 9 MB of peak RSS
(41.5 -> 32.3 MB with the HAT's GPIO lines: bench/profile_daemon.py --only rss), and dropping
them after the load frees next to nothing: CPython keeps the classes, their validators and
pydantic's caches for the process's life. A child that reads and checks the file and hands
back the plain `Config` (frozen dataclasses, pickled over a pipe) takes that memory with it
when it exits. Short commands (probe, dump,
doctor) load in-process: they end before memory matters.

The child is forked before the daemon starts a thread or an event loop; it only reads files.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import traceback
from collections.abc import Mapping
from typing import TYPE_CHECKING

from mepd.errors import ConfigError, MepdError

if TYPE_CHECKING:
    from mepd.config.resolved import Config

# What the child sends back: ("config", Config), or the kind of error and its message.
_LOADED = "config"
_CONFIG_ERROR = "config-error"  # ConfigError or KeyFormatError: the file or the key (exit 78)
_FAILURE = "failure"  # any other MepdError (exit 1)
_CRASH = "crash"  # a bug: the child printed its traceback


def config_in_child(
    args: argparse.Namespace,
    *,
    environ: Mapping[str, str] = os.environ,
    require_key: bool = True,
) -> Config:
    """`config_from_args(args)`, computed in a forked child; its errors are raised here."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(write_end, args, environ, require_key)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
    finally:
        _, status = os.waitpid(pid, 0)
    if not data:
        raise MepdError(
            f"loading the configuration failed: its process ended with status {status:#x}"
        )
    kind, payload = pickle.loads(data)  # noqa: S301 - our own child, over our own pipe
    if kind == _LOADED:
        config: Config = payload
        return config
    if kind == _CONFIG_ERROR:
        raise ConfigError(payload)
    if kind == _FAILURE:
        raise MepdError(payload)
    raise MepdError(f"loading the configuration failed: {payload} (the traceback is above)")


def _child(
    pipe: int, args: argparse.Namespace, environ: Mapping[str, str], require_key: bool
) -> None:
    code = 0
    try:
        from mepd.config.load import config_from_args  # noqa: PLC0415 - pydantic: child only
        from mepd.protocol.errors import KeyFormatError  # noqa: PLC0415

        try:
            answer: tuple[str, object] = (
                _LOADED,
                config_from_args(args, environ=environ, require_key=require_key),
            )
        except (ConfigError, KeyFormatError) as error:
            answer = (_CONFIG_ERROR, str(error))
        except MepdError as error:
            answer = (_FAILURE, str(error))
        except Exception as error:  # a bug: shown as Python would show it
            traceback.print_exc()
            answer = (_CRASH, type(error).__name__)
        with os.fdopen(pipe, "wb") as out:
            out.write(pickle.dumps(answer))
    except KeyboardInterrupt:
        code = 130  # the parent got the same SIGINT and says so
    except BaseException:  # nothing may escape into the parent's code
        traceback.print_exc()
        code = 1
    finally:
        sys.stderr.flush()
        os._exit(code)
