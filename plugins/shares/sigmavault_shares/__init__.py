"""SigmaVault shares: NAS accounts, protocol-neutral shares and one permission model."""
