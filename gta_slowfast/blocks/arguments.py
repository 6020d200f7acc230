"""Validation of the blocks' plain arguments.

The blocks know no config; their errors name the argument and, in
parentheses, the PySlowFast config key that sets it in this plugin.
"""


def check_choice(argument, value, allowed, key):
    """Raises ValueError naming ``argument`` (and ``key``) unless ``value``
    is one of ``allowed``."""
    if value not in allowed:
        raise ValueError("{} '{}' ({}) is not valid; allowed values: {}".format(
            argument, value, key, list(allowed)))
