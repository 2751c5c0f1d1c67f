"""The people of partners (and the city's staff): personal data, exported and erased on request. The usual
rooms.
"""
