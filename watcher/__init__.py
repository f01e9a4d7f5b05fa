"""Replywatch's engine: watches threads and sends follow-ups. No Flask, no card JSON here."""
