"""Every way in for people who just want to know how their songs feel: the Python API, the model folder, the
`music-emotion` command and the web page. Light to import: torch and transformers load when a model does."""
