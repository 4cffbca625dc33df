"""The domain error tree. Foreign errors (ffmpeg, httpx, Telegram) are translated at the boundary.

::

    BotError
      ConfigError                 a setting is missing or invalid; stops start-up
      Refusal                     what a user asked for is refused; carries the i18n key to show
      MediaError                  a user's file cannot be used (a Refusal)
        FileTooBig                over the download limit (checked before getFile)
        UnsupportedMedia          not what the step asked for (a sticker, a PDF, audio as face)
          UnsupportedFormat       a container we do not read, e.g. a playlist naming other files
        CorruptMedia              ffmpeg cannot read it
        SilentAudio               the voice has no sound in it
        MediaTooLong              the voice is longer than MAX_VOICE_SECONDS
        DownloadFailed            Telegram did not hand the file over
      RenderError                 ffmpeg failed while making the output
      DeliveryError               Telegram refused the finished video
        ChatUnreachable           the user blocked the bot or the chat is gone (do not retry)
      ProviderError               a provider call failed (carries the provider name)
        ProviderUnavailable       transient: timeout, 429, 5xx -> retry, keep polling
          UnknownStatus           a status word we do not know -> logged once, keep polling
        ProviderRejected          permanent: the provider refused this job -> tell the user why
        ProviderAuthError         bad or revoked key -> provider unavailable, admins told
        ProviderOutOfCredits      the account cannot pay -> provider unavailable, admins told
      WebhookRejected             a webhook failed verification (signature, timestamp, token)
      UnsafeURL                   an output URL is not https or points at a private address
      SpeechError                 typed text could not be spoken (nothing to say, engine failed)
        SpeechUnavailable         the speech engine's library or data is missing
        SpeechTooLong             the speech is longer than the caller's max_seconds
        SpeechServiceFailed       a provider's voice (Creatify, Magic Hour) could not speak it
        SpeechTextTooLong         more characters than a provider's voice takes
"""

from __future__ import annotations


class BotError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(BotError):
    """A setting is missing or invalid; the message names the variable."""


class Refusal(BotError):
    """Something a user asked for is refused: ``key`` is the locale key of the explanation,
    ``params`` its placeholders, so a handler's answer is ``t(locale, exc.key, **exc.params)``."""

    key = "error.unknown"

    def __init__(self, detail: str = "", **params: object) -> None:
        super().__init__(detail or self.key)
        #: Placeholders for the localized message, e.g. ``limit_mb``.
        self.params = params


class MediaError(Refusal):
    """A user's file cannot be used."""

    key = "error.media_unreadable"


class FileTooBig(MediaError):
    key = "error.file_too_big"


class UnsupportedMedia(MediaError):
    key = "error.unsupported"


class UnsupportedFormat(UnsupportedMedia):
    """ffmpeg would read the file as a kind we refuse: a playlist, a concat list, or
    anything off the demuxer whitelist (see bot.media.ffmpeg.input_args)."""

    key = "error.unsupported_format"


class CorruptMedia(MediaError):
    key = "error.corrupt"


class SilentAudio(MediaError):
    key = "error.silent"


class MediaTooLong(MediaError):
    key = "error.too_long"


class DownloadFailed(MediaError):
    key = "error.download_failed"


class TextTooLong(MediaError):
    """Typed text over MAX_TEXT_CHARS (params: ``limit``, ``length``)."""

    key = "error.text_too_long"


class TextTooLongSpoken(MediaError):
    """Typed text that takes longer than MAX_VOICE_SECONDS to say (``limit``, ``duration``)."""

    key = "error.text_too_long_spoken"


class SpeechBroken(MediaError):
    """The built-in voice cannot run here (its library or data): not the user's fault."""

    key = "error.check_failed"


class FaceNotTaken(MediaError):
    """No enabled provider makes a video from this kind of face (``face``: photo or video);
    ``other_taken``: whether the other kind would do (else only avatars are left)."""

    def __init__(self, face: str, *, other_taken: bool) -> None:
        super().__init__(f"no provider takes a {face}")
        self.key = f"error.no_{face}" if other_taken else "error.avatars_only"


class RecordingNotTaken(MediaError):
    """The chosen face can only be made from typed text: a provider's avatar when the bot is
    not public (the provider takes recordings only by URL)."""

    key = "error.text_only"


class DialogueFaceNotTaken(MediaError):
    """No enabled provider makes a dialogue of this kind of face (a video, say);
    ``photo_taken``: whether a photo of both people would do (else only two avatars)."""

    def __init__(self, face: str, *, photo_taken: bool) -> None:
        super().__init__(f"no provider makes a dialogue of a {face}")
        self.key = "error.dialogue_photo_only" if photo_taken else "error.dialogue_avatars_only"


class DialogueRecordingNotTaken(RecordingNotTaken):
    """A dialogue's avatars speak typed text only (Creatify's scenes)."""

    key = "error.dialogue_text_only"


class TextUnspeakable(MediaError):
    """Typed text that gives no speech (only emoji or symbols, say), or a speech engine that
    failed."""

    key = "error.text_unspeakable"


class VoiceServiceFailed(MediaError):
    """A provider's voice could not speak the text (its service failed): ``service``."""

    key = "error.voice_service_failed"


class TextTooLongForVoice(MediaError):
    """More characters than the chosen provider voice takes (``limit``, ``length``,
    ``service``)."""

    key = "error.text_too_long_for_voice"


class RenderError(BotError):
    """ffmpeg failed while producing an output; the detail is for logs, not users."""


class ProviderError(BotError):
    """A provider call failed. ``reason`` is the provider's own words, safe to show a user.
    ``maybe_done`` says a create may have taken effect all the same: no answer, a 5xx after
    sending, or any answer after an earlier try of the same create got none."""

    def __init__(
        self,
        provider: str,
        reason: str,
        *,
        status_code: int | None = None,
        maybe_done: bool = False,
    ) -> None:
        super().__init__(f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason
        self.status_code = status_code
        self.maybe_done = maybe_done


class ProviderUnavailable(ProviderError):
    """Transient: worth retrying later. ``retry_after`` is the provider's hint in seconds."""

    def __init__(
        self,
        provider: str,
        reason: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        maybe_done: bool = False,
    ) -> None:
        super().__init__(provider, reason, status_code=status_code, maybe_done=maybe_done)
        self.retry_after = retry_after


class UnknownStatus(ProviderUnavailable):
    """The provider reported a status this version does not know. Treated as transient (it may
    be a new in-between state) rather than guessed; the deadline still ends the job."""


class ProviderRejected(ProviderError):
    """Permanent for this job: bad input, unprocessable media."""


class ProviderAuthError(ProviderError):
    """The API key is missing, wrong or revoked."""


class ProviderOutOfCredits(ProviderError):
    """The provider account has no credits left for this job."""


class WebhookRejected(BotError):
    """A webhook failed verification; nothing in it is trusted."""


class UnsafeURL(BotError):
    """A URL the bot was asked to fetch is not https or resolves to a private address."""


class SpeechError(BotError):
    """Typed text could not be spoken: empty, nothing speakable, or the engine failed. The
    detail is for logs; callers show their own message (error.text_unspeakable)."""


class SpeechUnavailable(SpeechError):
    """The speech engine cannot run here: its library or voice data is missing or broken."""


class SpeechTooLong(SpeechError):
    """The speech lasts ``seconds``, over ``limit``. ``seconds`` is a lower bound when
    ``at_least``: the engine stopped measuring at its own hard limit."""

    def __init__(self, seconds: float, limit: float, *, at_least: bool = False) -> None:
        more = " or more" if at_least else ""
        super().__init__(f"the speech lasts {seconds:.1f} s{more}, over the limit of {limit:g} s")
        self.seconds = seconds
        self.limit = limit
        self.at_least = at_least


class SpeechServiceFailed(SpeechError):
    """A provider's voice failed (its API refused, failed the job, timed out, or gave audio we
    cannot read). ``service`` is its name as users know it ("Creatify")."""

    def __init__(self, service: str, detail: str) -> None:
        super().__init__(f"{service}: {detail}")
        self.service = service


class SpeechTextTooLong(SpeechError):
    """The text has ``length`` characters, over the ``limit`` of ``service``'s voice."""

    def __init__(self, service: str, limit: int, length: int) -> None:
        super().__init__(f"{service} speaks at most {limit} characters, not {length}")
        self.service = service
        self.limit = limit
        self.length = length


class DeliveryError(BotError):
    """Telegram refused the finished video."""


class ChatUnreachable(DeliveryError):
    """The bot cannot write to this chat any more (blocked, kicked, chat deleted)."""
