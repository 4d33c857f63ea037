"""The Mastodon test release: a test double standing in for a prepared Mastodon release."""
