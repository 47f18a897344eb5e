"""The demo that ``jobsched console --demo`` and ``jobsched run`` without a config use.

- ``jobsched.toml``: the demo configuration (:func:`config_text`); its ``handlers`` list
  names :mod:`demo.handlers`, which does real work against local servers;
- :mod:`demo.servers`: SMTP and HTTP servers on 127.0.0.1 (:class:`~demo.servers.DemoServers`);
- :mod:`demo.workload`: a seeded mixed workload (:class:`~demo.workload.DemoWorkload`).

Importing this package imports nothing else, so reading the configuration stays cheap.
"""

from __future__ import annotations

from importlib import resources

CONFIG_FILE = "jobsched.toml"


def config_text() -> str:
    """The demo configuration (TOML text), read from the installed package."""
    return resources.files(__name__).joinpath(CONFIG_FILE).read_text(encoding="utf-8")
