"""Verifying a scanned credential QR: officers' scan page, gates and third parties (API), the public page."""
