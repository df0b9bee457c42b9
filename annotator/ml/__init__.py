"""The model engine. The only package that imports torch."""
