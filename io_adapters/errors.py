"""The error hierarchy shared by every nirom package.

Messages name the file, the place and what was expected versus what was found.
"""


class NiromError(Exception):
    """Base class of every error nirom raises on purpose."""


class InputError(NiromError):
    """A file or an argument does not hold what nirom expects."""


class MeshMismatchError(InputError):
    """Data that must share a mesh (fields, subdomains, training runs) do not."""


class ConvergenceError(NiromError):
    """A nonlinear solve did not converge within its limits."""


class ConfigError(NiromError):
    """A configuration (TOML file or dict) is inconsistent or incomplete."""


class MissingDependencyError(NiromError, ImportError):
    """An optional package is needed for this feature and is not installed."""


def require(module: str, extra: str, feature: str):
    """Import an optional dependency, or say which extra installs it.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"ansys.mapdl.reader"``.
    extra : str
        The nirom extra that brings it, e.g. ``"ansys"``.
    feature : str
        What the caller wanted to do, for the message.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{feature} needs the optional package '{module}', which is not installed: "
            f"pip install 'nirom[{extra}]' (or 'make setup' for everything)"
        ) from exc
