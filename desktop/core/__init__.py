"""The engine behind the app: no torch, no Qt."""
