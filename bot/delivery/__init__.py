"""Delivery: progress messages and sending results to Telegram."""
