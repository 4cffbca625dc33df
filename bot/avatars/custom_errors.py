"""Why a custom avatar request was refused: each error carries the locale key (and its
parameters) of the words to tell the user, so a handler's refusal is one line::

    except CustomAvatarError as exc:
        await reply(context.t(locale, exc.key, **exc.params))
"""

from __future__ import annotations

from bot.errors import Refusal


class CustomAvatarError(Refusal):
    """A custom avatar request that was refused or failed; ``key`` is the locale key."""

    key = "avatar.unavailable"


class NotAllowed(CustomAvatarError):
    """CUSTOM_AVATARS does not let this user make avatars."""

    key = "avatar.not_allowed"


class AvatarsUnavailable(CustomAvatarError):
    """No provider that builds avatars is on, or it cannot be reached right now: nothing was
    sent (or nothing that could have made an avatar)."""

    key = "avatar.unavailable"


class NoSlots(CustomAvatarError):
    """The provider account's custom-avatar slots are used up (checked before uploading)."""

    key = "avatar.no_slots"


class TooMany(CustomAvatarError):
    """The user has as many avatars being built or ready as one may (``limit``)."""

    key = "avatar.too_many"


class BadName(CustomAvatarError):
    """The name has nothing visible in it."""

    key = "avatar.bad_name"


class BadVideo(CustomAvatarError):
    """A training or consent video is missing, empty or of a type the provider refuses."""

    key = "avatar.bad_video"


class AvatarRefused(CustomAvatarError):
    """The provider refused the create; ``reason`` is its own words (cleaned)."""

    key = "avatar.refused"


class AvatarUnconfirmed(CustomAvatarError):
    """The create was sent but its answer was lost, and without PUBLIC_URL no webhook can
    tell whether the avatar was made: it may exist at the provider (admins can look)."""

    key = "avatar.unconfirmed"


class NotShareable(CustomAvatarError):
    """Only an avatar made in a group can be shared with it."""

    key = "avatar.not_shareable"


class AvatarNotFound(CustomAvatarError):
    """No such avatar of this user's (deleted, someone else's, or a forged id)."""

    key = "avatar.not_found"
