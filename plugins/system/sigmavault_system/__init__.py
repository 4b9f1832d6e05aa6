"""SigmaVault system plugin: host status, live metrics, interfaces, services, Prometheus, PULSE."""

__version__ = "0.1.0"
