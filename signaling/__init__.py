"""Socket.IO signaling: connect-time auth, payload schemas, one handler per command."""
