"""signup_app: a signup form whose submit is a server action."""
