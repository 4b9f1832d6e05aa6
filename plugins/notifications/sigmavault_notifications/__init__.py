"""SigmaVault notifications: alerts delivered to webhooks, email and the notification centre."""
