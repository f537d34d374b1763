"""Where frames come from: Micro-Manager hooks, a watched folder, replay; one registry of kinds."""
