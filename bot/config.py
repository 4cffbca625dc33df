"""Settings: read once from the environment (and `.env`); nothing else reads the environment.

Variable names are a contract with operators (design.md section 5); field names here are
the lower-case form of those names.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import ConfigError

Secret = SecretStr | None
#: Voices MAGICHOUR_VOICES may name (each is a button on /voice).
MAX_MAGICHOUR_VOICES = 20
_S = TypeVar("_S", bound="StorageSettings")


class StorageSettings(BaseSettings):
    """What `lipsync-bot migrate` needs: the database and the log level, no token.
    Build it with :func:`load_storage_settings`."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # An empty variable in the environment lets the .env value (or the default) stand.
        env_ignore_empty=True,
    )

    database_url: str = "sqlite:///data/bot.db"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: object) -> object:
        """``NAME=`` (as shipped in .env.example) or spaces mean "not set", from any source;
        other values lose the spaces a copy-paste brings."""
        if not isinstance(data, dict):
            return data
        trimmed = {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
        return {k: v for k, v in trimmed.items() if v != ""}

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _sqlite_only(cls, value: str) -> str:
        if not value.startswith("sqlite:///"):
            raise ValueError("only sqlite:///PATH is supported in this version")
        return value

    @property
    def database_path(self) -> Path:
        """The SQLite file behind ``DATABASE_URL``."""
        return Path(self.database_url.removeprefix("sqlite:///"))


class Settings(StorageSettings):
    """Typed configuration. Build it with :func:`load_settings`."""

    telegram_bot_token: SecretStr
    telegram_api_url: str = "https://api.telegram.org"
    telegram_local_mode: bool = False
    telegram_mode: Literal["polling", "webhook"] = "polling"
    telegram_webhook_secret: Secret = None
    public_url: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=0, le=65535)
    data_dir: Path = Path("data")
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    providers: Annotated[tuple[str, ...], NoDecode] = ()

    creatify_api_id: Secret = None
    creatify_api_key: Secret = None
    creatify_api_url: str = "https://api.creatify.ai"
    #: How Creatify's ``aspect_ratio`` is spelt: ``x`` (9x16, current docs) or ``colon`` (9:16).
    creatify_ratio_format: Literal["x", "colon"] = "x"
    magichour_api_key: Secret = None
    magichour_webhook_secret: Secret = None
    magichour_api_url: str = "https://api.magichour.ai"
    #: Magic Hour voice generator presets offered for typed text (names as its SDK spells
    #: them, comma-separated, e.g. ``Morgan Freeman``); empty: its voices are off.
    magichour_voices: Annotated[tuple[str, ...], NoDecode] = ()
    lipsync_studio_api_key: Secret = None
    lipsync_studio_api_url: str = "https://lipsync.studio"
    sync_api_key: Secret = None
    sync_webhook_secret: Secret = None
    sync_api_url: str = "https://api.sync.so"
    #: The sync.so model that makes the videos (its ``model`` field).
    sync_model: Literal[
        "lipsync-2", "lipsync-2-pro", "sync-3", "lipsync-1.9.0-beta", "react-1"
    ] = "lipsync-2"

    poll_interval_seconds: float = Field(10, gt=0)
    #: Default seconds of generated video a day (and a month); 0 means no limit.
    user_daily_quota_seconds: int = Field(120, ge=0)
    group_daily_quota_seconds: int = Field(600, ge=0)
    user_monthly_quota_seconds: int = Field(0, ge=0)
    group_monthly_quota_seconds: int = Field(0, ge=0)
    #: A user's jobs waiting, queued or running at once.
    user_max_active_jobs: int = Field(2, ge=1)
    #: Jobs each provider works on at once; more wait in line.
    provider_max_active_jobs: int = Field(20, ge=1)
    #: Who may make custom avatars (/avatar): nobody, the bot admins, or every user.
    custom_avatars: Literal["off", "admins", "everyone"] = "admins"
    allow_private_urls: bool = False

    #: Longest voice accepted, in seconds.
    max_voice_seconds: float = Field(60, gt=0)
    #: Longest typed text accepted, in characters.
    max_text_chars: int = Field(1500, ge=1)
    #: Users' inputs and results are deleted this many hours after their job ends.
    media_retention_hours: float = Field(24, gt=0)
    #: First wait before retrying a provider call that failed transiently (doubles each try).
    provider_retry_base_seconds: float = Field(0.5, ge=0)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(int(part) for part in _split(value))
        return value

    @field_validator("creatify_ratio_format", "custom_avatars", mode="before")
    @classmethod
    def _lower_ratio_format(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("magichour_voices", mode="before")
    @classmethod
    def _split_voice_names(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(dict.fromkeys(_split(value)))
        return value

    @field_validator("magichour_voices")
    @classmethod
    def _voice_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) > MAX_MAGICHOUR_VOICES:
            raise ValueError(f"name at most {MAX_MAGICHOUR_VOICES} voices")
        for name in value:
            if len(name) > 64 or not name.isprintable():
                raise ValueError(f"{name[:64]!r} is not a voice name")
        return value

    @field_validator("providers", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.lower() for part in _split(value))
        return value

    @field_validator("telegram_api_url", "public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _webhook_needs_public_url(self) -> Settings:
        if self.telegram_mode == "webhook" and not self.public_url:
            raise ValueError("TELEGRAM_MODE=webhook needs PUBLIC_URL")
        return self

    @property
    def download_limit(self) -> int:
        """Largest file the Bot API lets the bot download (getFile)."""
        return 2**63 if self.telegram_local_mode else 20_000_000

    @property
    def upload_limit(self) -> int:
        """Largest file the Bot API accepts from the bot (sendVideo)."""
        return 2000 * 1024 * 1024 if self.telegram_local_mode else 50 * 1024 * 1024


def load_settings(
    environ: Mapping[str, str] | None = None, *, env_file: str | Path | None = ".env"
) -> Settings:
    """Build settings from ``environ`` (default: the process environment) and ``env_file``.

    Raises:
        ConfigError: one line per problem, each naming the variable.
    """
    return _load(Settings, environ, env_file)


def load_storage_settings(
    environ: Mapping[str, str] | None = None, *, env_file: str | Path | None = ".env"
) -> StorageSettings:
    """Like :func:`load_settings`, reading only what the database needs."""
    return _load(StorageSettings, environ, env_file)


def _load(schema: type[_S], environ: Mapping[str, str] | None, env_file: str | Path | None) -> _S:
    try:
        if environ is None:
            return schema(_env_file=env_file)
        # model_validate skips the environment sources: an injected mapping is the whole truth.
        return schema.model_validate({key.lower(): value for key, value in environ.items()})
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        name = "_".join(str(part) for part in error["loc"]).upper() or "configuration"
        if error["type"] == "missing":
            lines.append(f"{name} is required but not set")
        else:
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"{name}: {message}" if error["loc"] else message)
    return "\n".join(lines)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]
