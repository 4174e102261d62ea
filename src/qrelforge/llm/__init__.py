"""LLM plumbing shared by teachers and generators: prompts as data, strict answer parsing, clients, settings."""
