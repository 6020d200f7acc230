"""Training and testing for PySlowFast generations without tools."""
