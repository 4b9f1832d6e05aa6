"""SigmaVault SMB: Samba configuration, the supervised smbd, passwords and sessions."""
