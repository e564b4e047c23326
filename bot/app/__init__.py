"""The platform-neutral interview runner: the one write path, its inbox, outbox and timers."""
