"""Sharing a view with a room: its link as a QR code (``qr``), drawn from a cache (``cache``)."""
