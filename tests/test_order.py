"""The order as data: migration 5 carries the jobs of an earlier release over, and a typed
text splits into paragraphs (one scene each where a provider makes scenes)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.models import AudioVoice, FaceKind, FileFace, Probe, TextVoice
from storage import Database, JobRepository
from storage.migrations import MIGRATIONS

VIDEO_PROBE = '{"duration": 2.5, "width": 640, "height": 480, "has_video": true}'
VOICE_PROBE = '{"duration": 4.2, "has_audio": true}'


def _release_4_database(path: Path) -> None:
    """A database as the previous release left it: schema 4, one delivered job."""
    with sqlite3.connect(path) as conn:
        for number, script in enumerate(MIGRATIONS[:4], start=1):
            conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
        conn.execute(
            """
            INSERT INTO jobs (chat_id, user_id, chat_type, locale, provider, status, media_kind,
                media_path, media_probe, voice_path, voice_probe, ratio, seconds, created_at,
                updated_at)
            VALUES (5, 5, 'private', 'pt_BR', 'magichour', 'delivered', 'video',
                'data/inputs/face.mp4', ?, 'data/inputs/voice.ogg', ?, '16:9', 5,
                '2026-11-30T10:00:00+00:00', '2026-11-30T10:01:00+00:00')
            """,
            (VIDEO_PROBE, VOICE_PROBE),
        )


async def test_a_release_4_job_becomes_an_order(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    _release_4_database(path)
    db = await Database.open(path)
    try:
        assert await db.migrate() == len(MIGRATIONS)
        job = await JobRepository(db).get(1)
        columns = {row["name"] for row in await db.fetchall("PRAGMA table_info(jobs)")}
    finally:
        await db.close()
    assert job is not None
    face, voice = job.order.face, job.order.voice
    assert isinstance(face, FileFace)
    assert (face.kind, face.path, face.probe.duration) == (
        FaceKind.VIDEO,
        "data/inputs/face.mp4",
        2.5,
    )
    assert isinstance(voice, AudioVoice)
    assert (voice.path, voice.probe.duration) == ("data/inputs/voice.ogg", 4.2)
    assert job.ratio == "16:9"
    assert (job.seconds, job.provider, job.locale) == (5, "magichour", "pt_BR")
    # One place holds the order: the old columns are gone.
    assert not columns & {"media_kind", "media_path", "media_probe", "voice_path", "ratio"}


def test_paragraphs_are_split_at_blank_or_whitespace_lines() -> None:
    text = "One.\n \nTwo\r\n\t\r\nThree\n\n\n\nFour\nstill four\n\n   "
    voice = TextVoice(text=text, language="en", path="spoken.wav", probe=Probe(duration=4.0))
    assert voice.paragraphs() == ["One.", "Two", "Three", "Four\nstill four"]
