"""The bot's HTTP side: a small route table served by waitress.

HTTP mode serves Slack's requests (`POST /slack/events`) and the health probes; socket mode serves the
health probes only. Import `bot.web.server` lazily: socket mode must not pay for it unless it serves.
"""
