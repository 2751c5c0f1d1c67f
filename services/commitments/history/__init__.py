"""The audit trail: who changed what, when. No router: an item's history is served by items/router.py, a
contact's in its export.
"""
