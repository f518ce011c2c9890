"""The checkpoint page: widgets, caches, figures, address fields and views."""
