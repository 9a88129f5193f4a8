"""Triage: the company, linked issue or project, tags and assignee a feedback thread is
filed with — chosen in the modal from the catalog (`bot.catalog`), preselected from the channel and
the contact (`service`), offered as the person types (`suggest`), sent with the thread and its tags
by a PATCH right after it (`delivery`), and shown in the confirmation (`confirmation`).

Nothing is imported here, so the delivery worker can use `bot.triage.delivery` without the Slack
side's modules."""
