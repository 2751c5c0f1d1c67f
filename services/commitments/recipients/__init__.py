"""Who to write to about an item, and the contact a partner designates for it. No models: it reads the tables
of partners, contacts, plans and items, and writes designations to items' table.
"""
