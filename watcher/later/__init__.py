"""Send later: a draft addressed to the user's own me+later-2w@… is sent at that time, from
the user's account, unless a recipient has written to the user meanwhile.

    tags.py     pure: the tag grammar (later-2w, later-mon, later-2026-12-20, -then-1w, -always)
    model.py    the ScheduledSend table (one row per scheduled draft)
    scan.py     the trigger: a tagged draft found in Drafts becomes a ScheduledSend
    message.py  pure: the draft's MIME -> the outgoing message (tag gone, deterministic id)
    send.py     the exactly-once sending step, run once per pass per account
    unless_reply.py   "unless they wrote first": a recipient's mail since it was scheduled
    actions.py  what the faces do: cancel, move, send now, the follow-up after it
Its queries are watcher/store/later.py; its CLI watcher/cli/later.py; its page web/later.py.

Life of a ScheduledSend (state):

    scheduled --claim, re-read, nobody wrote--> sending --server took it--> sent
        |  \\--a recipient wrote first--> held (draft stays, user told)
        |   \\--draft deleted or untagged--> cancelled; refused by the server--> failed
        \\--user cancels--> cancelled (draft stays)
    sent --draft deleted--> done
    sending --crash--> (next pass) Sent has it: sent; authoritative Sent lacks it: scheduled;
                       SMTP cannot tell: unconfirmed (never sent twice)
"""
