"""Plans, their axes and objectives, progress rolled up from items, and a plan's text imported as items and
deadlines. The usual rooms, plus importer.py, party_resolution.py, plan_text.py and reading/ (the French
reader).
"""
