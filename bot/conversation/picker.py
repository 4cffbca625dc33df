"""The avatar picker's side of the conversation: which avatars a draft is offered, page by
page, which one a button names, and which picked earlier are no longer offered. It reads
only the catalogue's in-memory snapshot, so a tap never waits for a provider; an empty
catalogue asks for a refresh in the background."""

from __future__ import annotations

from bot import callback_data as cd
from bot.avatars import AvatarCatalog, AvatarPage, Filter
from bot.models import Avatar, AvatarFace, Draft


class AvatarPicker:
    def __init__(self, catalog: AvatarCatalog) -> None:
        self._catalog = catalog

    @property
    def available(self) -> bool:
        """Whether a provider with avatars is on ([Avatars] at the MEDIA step)."""
        return self._catalog.available

    def page(self, draft: Draft, shown: Filter, number: int) -> AvatarPage:
        """Page ``number`` of ``shown`` for the draft's user (MINE: their own avatars, and
        in a group those shared with it)."""
        page = self._catalog.page(shown, number, draft.user_id, _group(draft))
        if not page.total and self._catalog.is_empty():
            self._catalog.wanted()  # nothing at all yet: ask the providers again, not in this tap
        return page

    def has_own(self, draft: Draft) -> bool:
        """Whether the draft's user has avatars of their own, or its group shared ones ([My
        avatars])."""
        return self._catalog.has_own(draft.user_id, _group(draft))

    def find(self, draft: Draft, ref: str) -> Avatar | None:
        """The avatar a button's ``ref`` names, if it is still offered to the draft's user (a
        forged or outdated ref, or someone else's custom avatar: None)."""
        if not cd.is_avatar_ref(ref):
            return None
        return self._catalog.find(ref, draft.user_id, _group(draft))

    def gone(self, draft: Draft) -> list[AvatarFace]:
        """The draft's avatars (a dialogue's two) no longer offered to its user in its chat:
        someone else's custom avatar no longer shared with the group, a custom avatar
        deleted, a stock one its provider no longer lists. Asked again where a picked face
        is used ([Generate], and a job's inputs taken up again: [Again], [Try again],
        [Other provider]): [Use NAME] alone would let a conversation, or a job's buttons,
        keep an avatar forever after its owner took it back."""
        faces = [face for face in (draft.avatar, draft.avatar2) if face is not None]
        return [
            face
            for face in faces
            if not self._catalog.offers(
                face.provider, face.avatar_id, draft.user_id, _group(draft)
            )
        ]


def _group(draft: Draft) -> int | None:
    """The group whose shared avatars the draft may use: its chat, unless private (a private
    chat's id is its user's, never a group's; said here rather than trusted)."""
    return None if draft.chat_type == "private" else draft.chat_id
