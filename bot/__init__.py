"""interview-bot: the adapters (terminal, Slack, storage, scheduling) around the engine."""
