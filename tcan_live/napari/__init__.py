"""The napari plugin: live previews from the daemon, tcan-live stores, a watch-folder daemon."""
