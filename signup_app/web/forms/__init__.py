"""Forms declared once: each gives its page, its no-JS page, its payload type, schema, state and routes."""
