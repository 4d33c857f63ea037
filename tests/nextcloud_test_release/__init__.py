"""The Nextcloud test release: a test double standing in for Nextcloud's release archive."""
