"""Agent declarations: parameter models and the ``run`` handlers that call the work modules."""
