"""Student model kinds: how a small model turns a query and a passage into a probability per grade."""
