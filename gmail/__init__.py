"""Everything that speaks Google: the Gmail API mailbox (api.py) and, later, the add-on."""
