"""Bot API plumbing: file transfer, the request pool, the per-chat update processor."""
