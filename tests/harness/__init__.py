"""What tests/ and bench/ share: servers, databases, clients, /proc readers, test data."""
