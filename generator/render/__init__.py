"""Stage 3, render (pure): the model in, text or bytes out: project file, seeds, bootstrap tree,
canvas, README, diagram. No file is read or written here."""
