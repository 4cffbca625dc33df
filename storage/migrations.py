"""Schema steps, applied in order by ``PRAGMA user_version``. Never edit a released step."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: users, chats, conversation drafts, jobs.
    """
    CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        username      TEXT,
        first_name    TEXT NOT NULL DEFAULT '',
        language_code TEXT,
        blocked       INTEGER NOT NULL DEFAULT 0,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
    );
    CREATE TABLE chats (
        id         INTEGER PRIMARY KEY,
        type       TEXT NOT NULL,
        title      TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    -- One conversation per (chat, user); the whole draft is a JSON document so new
    -- conversation fields need no migration.
    CREATE TABLE drafts (
        chat_id    INTEGER NOT NULL,
        user_id    INTEGER NOT NULL,
        step       TEXT NOT NULL,
        data       TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (chat_id, user_id)
    );
    CREATE TABLE jobs (
        id                INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id           INTEGER NOT NULL,
        user_id           INTEGER NOT NULL,
        chat_type         TEXT NOT NULL,
        locale            TEXT NOT NULL,
        provider          TEXT NOT NULL,
        status            TEXT NOT NULL,
        media_kind        TEXT NOT NULL,
        media_path        TEXT NOT NULL,
        media_probe       TEXT NOT NULL,
        voice_path        TEXT NOT NULL,
        voice_probe       TEXT NOT NULL,
        ratio             TEXT NOT NULL,
        provider_job_id   TEXT,
        progress          INTEGER,
        error             TEXT,
        status_message_id INTEGER,
        output_path       TEXT,
        result_file_id    TEXT,
        created_at        TEXT NOT NULL,
        updated_at        TEXT NOT NULL,
        finished_at       TEXT
    );
    CREATE INDEX jobs_by_status ON jobs (status);
    CREATE INDEX jobs_by_user ON jobs (user_id, id DESC);
    """,
    # 2: remote providers: output URL, credits, submit marker, deadline, polling schedule;
    # provider health for "tell the admins once".
    """
    ALTER TABLE jobs ADD COLUMN output_url TEXT;
    ALTER TABLE jobs ADD COLUMN credits REAL;
    ALTER TABLE jobs ADD COLUMN submit_started_at TEXT;
    ALTER TABLE jobs ADD COLUMN deadline_at TEXT;
    ALTER TABLE jobs ADD COLUMN next_poll_at TEXT;
    ALTER TABLE jobs ADD COLUMN poll_failures INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX jobs_due_for_poll ON jobs (next_poll_at)
        WHERE status IN ('submitting', 'queued', 'running');
    CREATE INDEX jobs_by_provider_job ON jobs (provider, provider_job_id);
    CREATE TABLE provider_health (
        provider   TEXT PRIMARY KEY,
        state      TEXT NOT NULL,
        detail     TEXT,
        since      TEXT NOT NULL,
        notified   INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 3: delivery claims (see DeliveryClaim): an upload is claimed before it starts.
    """
    ALTER TABLE jobs ADD COLUMN delivery TEXT;
    """,
    # 4: quotas (design §6): an append-only ledger of seconds, per-user and per-group limits
    # (their row is also the lock a reserve takes), bans, a group's on/off switch, the price
    # a job reserved, failure reasons as codes with parameters, when a job left the line, and
    # the built-in voice a user chose for typed text.
    """
    CREATE TABLE ledger (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        scope      TEXT NOT NULL,
        owner_id   INTEGER NOT NULL,
        user_id    INTEGER NOT NULL,
        chat_id    INTEGER NOT NULL,
        job_id     INTEGER,
        kind       TEXT NOT NULL,
        seconds    INTEGER NOT NULL,
        day        TEXT NOT NULL,
        month      TEXT NOT NULL,
        note       TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX ledger_by_owner_day ON ledger (scope, owner_id, day);
    CREATE INDEX ledger_by_owner_month ON ledger (scope, owner_id, month);
    CREATE INDEX ledger_by_job ON ledger (job_id);
    CREATE INDEX ledger_by_day ON ledger (day);
    CREATE TABLE quota_limits (
        scope          TEXT NOT NULL,
        owner_id       INTEGER NOT NULL,
        daily          INTEGER,
        monthly        INTEGER,
        member_daily   INTEGER,
        version        INTEGER NOT NULL DEFAULT 0,
        updated_at     TEXT NOT NULL,
        PRIMARY KEY (scope, owner_id)
    );
    ALTER TABLE users ADD COLUMN banned_at TEXT;
    ALTER TABLE users ADD COLUMN ban_notified INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN voice_id TEXT;
    ALTER TABLE chats ADD COLUMN bot_enabled INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE jobs ADD COLUMN seconds INTEGER;
    ALTER TABLE jobs ADD COLUMN reason TEXT;
    ALTER TABLE jobs ADD COLUMN started_at TEXT;
    CREATE INDEX jobs_waiting ON jobs (provider, id) WHERE status = 'waiting';
    CREATE INDEX users_by_username ON users (lower(username));
    """,
    # 5: the order as data (issue 8): a job's face (photo, video or a provider's avatar) and
    # voice (recording or typed text) become one JSON document, so that new kinds need no
    # columns. Existing jobs are carried over: their face was a file and their voice audio.
    """
    ALTER TABLE jobs ADD COLUMN order_data TEXT NOT NULL DEFAULT '{}';
    UPDATE jobs SET order_data = json_object(
        'face', json_object('kind', media_kind, 'path', media_path, 'probe', json(media_probe)),
        'voice', json_object('kind', 'audio', 'path', voice_path, 'probe', json(voice_probe)),
        'ratio', ratio
    );
    ALTER TABLE jobs DROP COLUMN media_kind;
    ALTER TABLE jobs DROP COLUMN media_path;
    ALTER TABLE jobs DROP COLUMN media_probe;
    ALTER TABLE jobs DROP COLUMN voice_path;
    ALTER TABLE jobs DROP COLUMN voice_probe;
    ALTER TABLE jobs DROP COLUMN ratio;
    """,
    # 6: custom avatars (issue 9): one row per avatar a user asked a provider to build from
    # their own video. Building takes days, so the row is the avatar's whole state: watched
    # by webhook (``webhook_token`` is the secret in its URL) and by slow polls
    # (``next_check_at``, ``checks``) across restarts. ``persona_id`` stays NULL until the
    # provider's create answers (or, when that answer was lost, its webhook names it);
    # ``avatar_data`` holds the provider's avatar (stills) once ready; the training and
    # consent videos are kept only until it settles.
    """
    CREATE TABLE custom_avatars (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        owner_id         INTEGER NOT NULL,
        chat_id          INTEGER NOT NULL,
        shared_with_chat INTEGER NOT NULL DEFAULT 0,
        provider         TEXT NOT NULL,
        persona_id       TEXT,
        name             TEXT NOT NULL,
        gender           TEXT NOT NULL,
        locale           TEXT NOT NULL,
        state            TEXT NOT NULL,
        reason           TEXT,
        webhook_token    TEXT NOT NULL,
        training_path    TEXT,
        consent_path     TEXT,
        avatar_data      TEXT,
        created_at       TEXT NOT NULL,
        updated_at       TEXT NOT NULL,
        submitted_at     TEXT,
        ready_at         TEXT,
        next_check_at    TEXT,
        checks           INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX custom_avatars_by_owner ON custom_avatars (owner_id, id);
    CREATE INDEX custom_avatars_due ON custom_avatars (next_check_at) WHERE state = 'pending';
    CREATE INDEX custom_avatars_ready ON custom_avatars (state) WHERE state = 'ready';
    CREATE UNIQUE INDEX custom_avatars_by_persona ON custom_avatars (provider, persona_id)
        WHERE persona_id IS NOT NULL;
    """,
    # 7: the /avatar conversation (issue 9), one per user: the videos checked so far, the
    # name and gender, as a JSON document (like drafts: new fields need no migration), so a
    # restart in the middle loses nothing. ``version`` is its compare-and-set stamp.
    """
    CREATE TABLE avatar_setups (
        user_id    INTEGER PRIMARY KEY,
        step       TEXT NOT NULL,
        data       TEXT NOT NULL,
        version    INTEGER NOT NULL,
        updated_at TEXT NOT NULL
    );
    """,
    # 8: a keyed create's Idempotency-Key (sync.so's), made at the job's first send and sent
    # unchanged with every resend: made again from the clock or the settings (PUBLIC_URL) it
    # could differ, and sync.so would make (and charge) a second video. A column of its own,
    # not part of ``order_data`` (what the user asked for): it is written in the same
    # compare-and-set as ``submit_started_at``, before the create leaves.
    """
    ALTER TABLE jobs ADD COLUMN submit_key TEXT;
    """,
]
