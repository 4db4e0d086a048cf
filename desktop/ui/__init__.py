"""The PySide6 user interface: adapts desktop.core, never imports torch."""
