"""The doors onto each declared form's action: each adapts one protocol and only renders the result."""
