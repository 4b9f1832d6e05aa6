"""Built-in behaviour, written as ordinary plugins and registered like installed ones."""
