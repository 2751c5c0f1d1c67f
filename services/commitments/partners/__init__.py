"""The directory: organisations, groups scoped to a plan or a territory, their names and aliases. The usual
rooms, plus scopes.py (where names are unique, which groups a plan may name), naming.py and directory.py
(a directory file).
"""
