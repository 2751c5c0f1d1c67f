"""The journal of an item: responses, progress and notes, each signed by its author. The usual rooms."""
