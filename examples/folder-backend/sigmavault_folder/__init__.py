"""An example storage backend plugin (see docs/plugin-guide.md, "Writing a storage backend")."""
