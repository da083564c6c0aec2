"""What differs between the Pythons pyproject declares (>= 3.10): tomllib is standard from 3.11."""
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, packaged (a dependency there)
    import tomli as tomllib

__all__ = ["tomllib"]
