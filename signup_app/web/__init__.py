"""The web layer: form declarations, pages, transports and middleware, on Reflex and Starlette."""
