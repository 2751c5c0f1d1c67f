"""Reminder rules, each deadline's schedule, the deadline scanner and what goes out next. The usual rooms,
plus rules.py (the steps, pure) and scanner.py (its own process).
"""
