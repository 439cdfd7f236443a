"""mepd's configuration: the TOML file, its defaults, the secrets and command-line overrides.

Import what you need from its modules; this package imports nothing, so that `mepd --help`,
which needs only `overrides` (the options) and `defaults`, never pays for pydantic:

- `defaults`, `overrides`: paths and the shared options; standard library only.
- `load`: `load_config()` and `config_from_args()`, the only readers of TOML. It reads the file
  (`document`, against the pydantic models of `schema`, with messages from `problems`), applies
  the overrides, and builds the settings (`build`, with the keys from `keys`/`keysource`).
- `resolved`: the `Config` and `MeterConfig` those return; plain frozen values.
- `isolated`: `config_in_child()`, the same load in a forked child, for the long-lived daemon.
"""
