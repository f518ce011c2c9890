"""The layer page's family: widgets, caches, figures, links and views."""
