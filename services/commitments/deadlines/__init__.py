"""Deadlines of items, their renegotiation and the dates partners propose. The usual rooms, plus events.py
(what reminders react to).
"""
