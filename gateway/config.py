"""Settings, read once from the environment (``METAGATE_*``) and an optional ``.env``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from starlette.config import Config

from resolvers.queries import Limits


@dataclass(frozen=True)
class Settings:
    STORE: str = "./metagate.db"
    HOST: str = "127.0.0.1"
    PORT: int = 8000
    LOG_LEVEL: str = "info"
    AUTH: bool = True
    LIMITS: Limits = field(default_factory=Limits)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def load(env_file: str | None = ".env") -> Settings:
    # A missing .env is normal: the environment alone configures the gateway.
    config = Config(env_file if env_file and Path(env_file).is_file() else None, env_prefix="METAGATE_")
    defaults = Settings()
    limits = Limits(
        max_page=config("MAX_PAGE_SIZE", cast=int, default=defaults.LIMITS.max_page),
        max_lineage_depth=config(
            "MAX_LINEAGE_DEPTH", cast=int, default=defaults.LIMITS.max_lineage_depth
        ),
        max_lineage_nodes=config(
            "MAX_LINEAGE_NODES", cast=int, default=defaults.LIMITS.max_lineage_nodes
        ),
    )
    return Settings(
        STORE=config("STORE", default=defaults.STORE),
        HOST=config("HOST", default=defaults.HOST),
        PORT=config("PORT", cast=int, default=defaults.PORT),
        LOG_LEVEL=config("LOG_LEVEL", default=defaults.LOG_LEVEL),
        AUTH=config("AUTH", cast=bool, default=defaults.AUTH),
        LIMITS=limits,
    )
