"""The Matrix explorer's family: its matrix sources, rank rules, widgets, caches, figures and links."""
