"""SQLAlchemy persistence: PostgreSQL (asyncpg) in production, SQLite (aiosqlite) embedded."""
