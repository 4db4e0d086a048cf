"""The picsift application: the command line (cli/), the engine (core/: no torch, no Qt) and the Qt app (ui/)."""
