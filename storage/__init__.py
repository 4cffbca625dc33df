"""Persistence on aiosqlite: the connection, migrations and one repository per table family."""

from storage.db import Database
from storage.drafts import DraftRepository
from storage.jobs import JobRepository
from storage.users import UserRepository

__all__ = ["Database", "DraftRepository", "JobRepository", "UserRepository"]
