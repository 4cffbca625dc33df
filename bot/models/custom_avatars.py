"""A user's own avatar, built by a provider from a video of them (issue 9)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from bot.models.avatars import Avatar, Gender
from bot.models.jobs import Reason


class CustomAvatarState(StrEnum):
    #: Sent to the provider (or about to be), being built: days.
    PENDING = "pending"
    #: Built: offered under [My avatars].
    READY = "ready"
    #: The provider could not build it (``reason`` says why), or it took too long.
    FAILED = "failed"
    #: Deleted by its owner: hidden everywhere, kept for the provider's late news.
    DELETED = "deleted"


class CustomAvatar(BaseModel):
    """A row of the custom_avatars table."""

    model_config = ConfigDict(frozen=True)

    id: int
    owner_id: int
    #: The chat it was made in (the owner's private chat, or a group).
    chat_id: int
    #: Whether the members of ``chat_id`` may use it too (a group's, by its owner's choice).
    shared_with_chat: bool = False
    provider: str
    #: The provider's id; None until its create answers (or its webhook names it).
    persona_id: str | None = None
    #: Ours to show, cleaned (bot.avatars.names): renaming changes only this.
    name: str
    gender: Gender
    #: The owner's language when it was made, for the news of its end.
    locale: str
    state: CustomAvatarState
    #: Why it failed, as data (a locale key and its parameters).
    reason: Reason | None = None
    #: The secret in its webhook URL; never shown, never logged.
    webhook_token: str = Field(repr=False)
    training_path: Path | None = None
    consent_path: Path | None = None
    #: The provider's own avatar once ready (its stills), as the picker shows it.
    avatar: Avatar | None = None
    created_at: datetime
    updated_at: datetime
    #: When its create was sent (or may have been): set just before the call.
    submitted_at: datetime | None = None
    ready_at: datetime | None = None
    next_check_at: datetime | None = None
    #: Polls so far without news: the pause before the next grows with it.
    checks: int = 0

    @property
    def made_in_group(self) -> bool:
        """Whether it was made in a group (only then can it be shared with one)."""
        return self.chat_id != self.owner_id

    def as_avatar(self) -> Avatar | None:
        """What the picker lists for it (ready ones only): the provider's stills, our name,
        its owner, and the group it is shared with."""
        if self.state is not CustomAvatarState.READY or self.persona_id is None:
            return None
        base = self.avatar or Avatar(provider=self.provider, avatar_id=self.persona_id, name="")
        return base.model_copy(
            update={
                "provider": self.provider,
                "avatar_id": self.persona_id,
                "name": self.name,
                "gender": self.gender,
                "owner_id": self.owner_id,
                "shared_chat_id": self.chat_id if self.shared_with_chat else None,
            }
        )
