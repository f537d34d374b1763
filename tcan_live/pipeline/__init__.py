"""The acquisition daemon's core: frames in, durable raw backlog, enhancers, sinks, previews."""
