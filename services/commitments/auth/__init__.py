"""API keys (stored hashed) and the caller they stand for, or the contact a service key acts for. The usual
rooms, plus keys.py (generating and hashing secrets).
"""
