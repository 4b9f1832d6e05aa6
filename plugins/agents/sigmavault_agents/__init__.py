"""SigmaVault agent swarm: the runtime, ``/api/v1/agents`` and the agents this plugin owns."""
