"""Rasa-side code of the assistant that is not training data: custom input channels."""
