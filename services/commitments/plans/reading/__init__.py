"""Reading an action plan's text: layout, classification, partner names and date wordings, by grammar."""
