"""Live previews over ZeroMQ: the publisher the daemon feeds, the wire protocol, viewers."""
