"""Pure decisions: stdlib only; `now` and data come in as arguments, values come out."""
