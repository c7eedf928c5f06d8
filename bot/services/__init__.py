"""Domain services: plain async code over SQLAlchemy sessions. Never import `telegram` here."""
