"""Reading frames from acquisition files: single TIFFs, MMStack files, NDTiff datasets."""
