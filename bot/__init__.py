"""productlane-slack: turn Slack conversations into Productlane feedback threads."""

__version__ = "0.1.0"
