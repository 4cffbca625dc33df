"""The faces side of the conversation (design §1, MEDIA): a photo or video sent, an avatar
picked, a dialogue's two faces, a face offered after the MEDIA step; and the refusal, before
any download, of a face no enabled provider takes. A part of :class:`DraftService`, which
holds the state these transitions use."""

from __future__ import annotations

import secrets

from bot.catalog import Catalog
from bot.conversation.background import BackgroundChecks
from bot.conversation.picker import AvatarPicker
from bot.conversation.steps import StepRules
from bot.errors import DialogueFaceNotTaken, FaceNotTaken
from bot.media.intake import MediaService
from bot.models import AvatarFace, Draft, FaceKind, InputFile, MediaKind, Step
from storage import DraftRepository


class FaceSteps:
    """DraftService's face transitions (a mixin: the service sets these attributes)."""

    _repo: DraftRepository
    _media: MediaService
    _catalog: Catalog
    _rules: StepRules
    _background: BackgroundChecks
    picker: AvatarPicker

    async def _said(
        self, draft: Draft, step: Step | None, update: dict[str, object]
    ) -> Draft | None:
        raise NotImplementedError

    async def set_dialogue(self, draft: Draft, on: bool) -> Draft | None:
        """[Dialogue] (``on``) or [One speaker] at the MEDIA step: the faces asked for become
        two people's, or one person's again (avatars picked so far are dropped). None if the
        press is out of place (past MEDIA, or ended), judged on the stored draft."""

        def switched(current: Draft) -> Draft | None:
            if current.step is not Step.MEDIA:
                return None
            return current.model_copy(
                update={"dialogue": on, "avatar": None, "avatar2": None, "turns": None}
            )

        return await self._repo.update(draft, switched)

    async def accept_face(self, draft: Draft, file: InputFile, kind: MediaKind) -> Draft | None:
        """Take ``file`` as the face and check it in the background; None if the
        conversation ended meanwhile.

        Raises:
            MediaError: too big to download, or a kind of face no provider takes (the draft
                is unchanged).
        """
        self._check_face(kind, dialogue=draft.dialogue)
        self._media.check_size(file)
        update = {
            "step": Step.MEDIA_CHECK,
            "media": file,
            "media_kind": kind,
            "avatar": None,
            "avatar2": None,
        }
        return await self._background.start(await self._said(draft, Step.MEDIA, update))

    async def choose_avatar(self, draft: Draft, ref: str) -> Draft | None:
        """[Use NAME] in the avatar picker: the avatar ``ref`` names is the face, and the
        conversation moves on to the voice; in a dialogue the first pick is the first
        speaker's (still at MEDIA), the second the second speaker's (of the same provider;
        the first's again leaves the second to pick).
        None if it is no longer offered to this user, its provider makes no dialogues, or the
        press is out of place (past MEDIA, or ended), judged on the stored draft."""
        avatar = self.picker.find(draft, ref)
        if avatar is None or avatar.provider not in self._catalog:
            return None
        face = AvatarFace(
            provider=avatar.provider,
            avatar_id=avatar.avatar_id,
            name=avatar.name,
            gender=avatar.gender,
        )

        def chosen(current: Draft) -> Draft | None:
            if current.step is not Step.MEDIA:
                return None
            update: dict[str, object] = {"avatar": face, "media": None, "media_kind": None}
            if not current.dialogue:  # on to the voice, or past it when one is kept
                return self._rules.advance(current.model_copy(update=update))
            if not self._catalog.makes_dialogue(FaceKind.AVATAR, face.provider):
                return None
            first = current.avatar
            if first is None or first.provider != face.provider:
                return current.model_copy(update={**update, "avatar2": None})
            if first.avatar_id == face.avatar_id:
                return current  # two people: the prompt asks for a different avatar again
            return self._rules.advance(current.model_copy(update={"avatar2": face}))

        return await self._repo.update(draft, chosen)

    def face_again(self, draft: Draft) -> Draft | None:
        """``draft`` asking for a face again, when an avatar of it (a dialogue's either) is
        no longer offered to its user in its chat (:meth:`AvatarPicker.gone`); None when
        every face still is. Back at MEDIA with everything else kept (the voices, the turns,
        the ratio, the provider, a dialogue's first avatar while it is still offered), so
        the next face leads on to what is still missing; under a new token, so the buttons
        shown for the old face (a summary's [Generate]) are stale."""
        gone = self.picker.gone(draft)
        if not gone:
            return None
        first = None if draft.avatar in gone else draft.avatar
        update = {
            "step": Step.MEDIA,
            "avatar": first,
            "avatar2": None,
            "token": secrets.token_urlsafe(6),
            "faces_again": draft.dialogue and draft.voice is not None,
        }
        return draft.model_copy(update=update)

    async def ask_face_again(self, draft: Draft) -> Draft | None:
        """The stored draft moved as :meth:`face_again` says ([Generate] with an avatar no
        longer offered); None when every face still is, or the conversation ended."""
        return await self._repo.update(draft, self.face_again)

    async def offer_face(self, draft: Draft, file: InputFile, kind: MediaKind) -> Draft | None:
        """Keep a face sent after the MEDIA step for [Use this face instead]; None if the
        conversation ended meanwhile.

        Raises:
            MediaError: too big to download, or a kind of face no provider takes.
        """
        self._check_face(kind, dialogue=draft.dialogue)
        self._media.check_size(file)
        update = {"offered_media": file, "offered_media_kind": kind}
        return await self._said(draft, None, update)

    def use_offered_face(self, draft: Draft) -> None:
        """Check the offered face in the background; it replaces the old one once it passes."""
        self._background.swap(draft)

    def _check_face(self, kind: MediaKind, *, dialogue: bool = False) -> None:
        """Refuse, before any download, a kind of face no enabled provider takes (Creatify
        alone without PUBLIC_URL takes avatars only; a dialogue's: a photo of both people):
        else the user would learn it only at the PROVIDER step, after the voice."""
        if dialogue:
            if not self._catalog.makes_dialogue(FaceKind(kind.value)):
                photo = self._catalog.makes_dialogue(FaceKind.PHOTO)
                raise DialogueFaceNotTaken(kind.value, photo_taken=photo)
            return
        if self._catalog.takes_face(FaceKind(kind.value)):
            return
        other = FaceKind.VIDEO if kind is MediaKind.PHOTO else FaceKind.PHOTO
        raise FaceNotTaken(kind.value, other_taken=self._catalog.takes_face(other))
