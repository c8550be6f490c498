"""Business logic, one module per capability; routes stay thin."""
