"""The words of the domain as plain data: no I/O, no threads, no Qt, no torch."""
