"""The Slack adapter: bolt app, listeners, Block Kit, timers, HTTP and Socket Mode serving."""
