"""The conversation of design §1 as transitions on a stored draft: :class:`DraftService`
(faces, voices, avatars, choices, confirm, resume) and the background checks of what the
user sent (:class:`InputChecks`). Handlers only render what it returns."""

from bot.conversation.background import CHECKS
from bot.conversation.checks import InputChecks
from bot.conversation.picker import AvatarPicker
from bot.conversation.service import DraftService, Press

__all__ = ["CHECKS", "AvatarPicker", "DraftService", "InputChecks", "Press"]
