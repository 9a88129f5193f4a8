"""Pure conversion of Slack content (rich_text, mrkdwn, attachments, files, emoji, names) into the HTML
and plain text of a Productlane thread. Nothing here talks to Slack or Productlane: `feedback/` and
`slack/` both use it, and it uses neither."""
