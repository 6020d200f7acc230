"""A registry of classes by name, filled by a decorator (the pattern of
detectron2's and fvcore's ``Registry``, with torch alone)."""


class Registry:
    """Name -> class.

    Usage::

        TEMPORAL_TERMS = Registry("temporal term")

        @TEMPORAL_TERMS.register("SHIFT")
        class LearnedShift(TemporalTerm): ...

        TEMPORAL_TERMS.get("SHIFT")  # LearnedShift
    """

    def __init__(self, kind):
        """
        Args:
            kind (str): what the registry holds, for its errors.
        """
        self.kind = kind
        self._classes = {}

    def register(self, name):
        """A class decorator that registers its class under ``name``.

        Raises:
            KeyError: ``name`` is already registered.
        """
        def add(cls):
            if name in self._classes:
                raise KeyError("A {} named '{}' is already registered ({}).".format(
                    self.kind, name, self._classes[name].__qualname__))
            self._classes[name] = cls
            return cls

        return add

    def get(self, name):
        """The class registered under ``name``; KeyError naming the others."""
        if name not in self._classes:
            raise KeyError("No {} named '{}'; registered: {}.".format(
                self.kind, name, list(self._classes)))
        return self._classes[name]

    def __contains__(self, name):
        return name in self._classes

    def __iter__(self):
        """The names, in registration order."""
        return iter(self._classes)
