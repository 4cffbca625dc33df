"""Why a job ended, in words: stored reasons (codes with parameters) rendered in the user's
language, and provider reasons made fit to show a user: one line, no control characters,
short.

A job's :class:`~bot.models.Reason` is data (a locale key and its parameters), so usage,
/stats and refunds can read it; :func:`reason_text` is the one place it becomes words. The
``{provider}`` placeholder is never stored: it is filled from ``job.provider`` when shown
(a label stored in one language would show in that language forever).

A provider's reason is its own free text: it can be thousands of characters long (Telegram
refuses a message over 4,096, so the failure would never be shown) or hold terminal escapes,
bidi overrides or zero-width characters that garble or disguise the message around it.
"""

from __future__ import annotations

import logging

from bot.i18n import Translator
from bot.models import Job
from bot.untrusted import clean_text

log = logging.getLogger(__name__)

#: A provider said no; its own reason, when it gave one, is the ``reason`` parameter.
PROVIDER_REJECTED = "error.provider_rejected"
#: Shown for a failure whose reason is missing or cannot be put into words.
UNKNOWN = "error.unknown"

#: Longest reason shown: a sentence or two, well inside any Telegram message.
MAX_REASON_CHARS = 300


def shown_reason(reason: str | None, limit: int = MAX_REASON_CHARS) -> str | None:
    """``reason`` on one line, without invisible characters, cut to ``limit`` characters
    (ending in "…" when cut). None when nothing readable is left."""
    return (clean_text(reason, limit) or None) if reason is not None else None


def reason_text(translator: Translator, job: Job) -> str:
    """Why ``job`` ended, in its user's language. Never raises: a stored reason that cannot
    be put into words (a code that is no text, a parameter missing) gives a generic text,
    and a log line for the operator."""
    reason = job.reason
    if reason is None:
        # Jobs that ended before reasons were data kept their words (already translated).
        return job.error or translator.t(job.locale, UNKNOWN)
    params: dict[str, object] = {
        # Cleaned again: a row is only as trustworthy as whatever wrote it.
        name: (shown_reason(value) or "") if isinstance(value, str) else value
        for name, value in reason.params.items()
    }
    params["provider"] = translator.provider(job.locale, job.provider)
    if reason.code == PROVIDER_REJECTED and not params.get("reason"):
        params["reason"] = translator.t(job.locale, "error.no_reason")
    try:
        return translator.t(job.locale, reason.code, **params)
    except Exception as exc:  # KeyError, IndexError, ValueError...: a bad row, not a crash
        log.warning(
            "Job %d: cannot put reason %r into words (%s: %s)",
            job.id,
            reason.code[:80],
            type(exc).__name__,
            exc,
        )
        return translator.t(job.locale, UNKNOWN)
