"""The picsift application: command line, core engine and (later) the Qt user interface."""
