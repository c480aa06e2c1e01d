"""The case record: the bottom of the house. Imports none of the other packages."""
