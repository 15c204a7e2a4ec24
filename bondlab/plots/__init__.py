"""Matplotlib helpers, one module per topic. Each takes ``ax=None`` and returns the axes; none calls ``plt.show()``."""
