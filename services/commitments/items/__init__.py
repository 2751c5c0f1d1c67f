"""Requests to partners and the city's commitments. The usual rooms, plus lifecycle.py (statuses and
transitions), permissions.py (who may do what), events.py (what others react to), cursor.py and
stated_dates.py.
"""
