"""The /avatar conversation's state: one per user, stored (storage.avatar_setups), so that a
restart in the middle loses nothing the user sent.

It lives in the user's private chat whatever chat /avatar was sent in; ``chat_id`` is the
chat the avatar is made for (a group's, when /avatar came from one: it may be shared there).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from bot.models import Gender, InputFile


class SetupStep(StrEnum):
    #: Waiting for the training video (the person speaking).
    TRAINING = "training"
    #: The training video is being downloaded and checked in the background.
    TRAINING_CHECK = "training_check"
    #: Waiting for the consent video (the person saying they agree).
    CONSENT = "consent"
    CONSENT_CHECK = "consent_check"
    #: Waiting for the avatar's name (text).
    NAME = "name"
    #: Waiting for [Woman] [Man] [Other].
    GENDER = "gender"
    #: The summary with [Create] [Cancel].
    CONFIRM = "confirm"
    #: [Create] was pressed: the videos are on their way to the provider.
    SENDING = "sending"
    #: Waiting for a new name for one of the user's avatars (``avatar_id``).
    RENAME = "rename"


#: The steps whose work runs in the background (what a restart starts again).
CHECKS = {
    SetupStep.TRAINING_CHECK: (SetupStep.TRAINING, SetupStep.CONSENT),
    SetupStep.CONSENT_CHECK: (SetupStep.CONSENT, SetupStep.NAME),
}


class AvatarSetup(BaseModel):
    """What a user has given so far for a new avatar (or the avatar they are renaming)."""

    model_config = ConfigDict(frozen=True)

    user_id: int
    #: The chat the avatar is made for: the user's private chat, or the group /avatar came
    #: from (then it may be shared with that group).
    chat_id: int
    #: Carried by this conversation's buttons: an older summary's [Create] is stale.
    token: str
    step: SetupStep
    locale: str
    #: The video being checked (at a ``*_CHECK`` step).
    checking: InputFile | None = None
    training_path: str | None = None
    training_seconds: float | None = None
    consent_path: str | None = None
    consent_seconds: float | None = None
    name: str | None = None
    gender: Gender | None = None
    #: RENAME: which of the user's avatars.
    avatar_id: int | None = None
    #: SENDING: when [Create] was pressed (a restart looks for an avatar made since).
    sending_since: datetime | None = None
    #: The stored row's compare-and-set stamp (0: not stored yet).
    version: int = 0
    updated_at: datetime | None = None

    @property
    def made_in_group(self) -> bool:
        return self.chat_id != self.user_id
