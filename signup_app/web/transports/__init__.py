"""The doors onto register_account: each adapts one protocol and holds no logic of its own."""
