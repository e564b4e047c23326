"""The interview engine and its scoring: pure Python, no I/O."""
