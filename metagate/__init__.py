"""Metagate: a GraphQL metadata gateway for machine-learning pipelines.

The installed package is ``metagate``; its parts live in the repository's top-level
folders and are mapped under it by ``package-dir`` in ``pyproject.toml``:
``metagate.gateway`` (gateway/), ``metagate.schema`` (schema/),
``metagate.resolvers`` (resolvers/) and ``metagate.store`` (store/).
"""

__version__ = "0.2.0.dev0"
