"""What tests/ and bench/ share: servers, throwaway databases, the browser-like client, /proc readers, test data.

Imported as ``tests.harness.<module>``; conftest files hold fixtures only and nothing imports them.
"""
