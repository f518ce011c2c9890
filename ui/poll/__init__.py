"""The room poll: its storage (SQLite), the presenter's panel and the voters' form."""
