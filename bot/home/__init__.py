"""The App Home: each person's Home tab lists what they sent to Productlane and where each
submission stands, with a New feedback button; admins also see how delivery is doing. Published when
the person opens it, and again when one of their submissions changes while they may be looking."""

from bot.home.tab import HomePacing, HomeShows, HomeSlack, HomeTab, update_mode_words

__all__ = ["HomePacing", "HomeShows", "HomeSlack", "HomeTab", "update_mode_words"]
