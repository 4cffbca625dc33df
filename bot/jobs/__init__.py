"""Jobs: the service, the poller and the webhook inbox."""
