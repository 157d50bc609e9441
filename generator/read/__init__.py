"""Archives after they leave the builder: open one safely, describe it (inspect), check it
(verify), compare two builds (diff)."""
