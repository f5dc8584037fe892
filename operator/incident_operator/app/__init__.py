"""Composition root: command lines that wire the layers below together."""
