"""NLU helpers that run inside the Rasa server's pipeline."""
