"""The fleet's operations: targets, progress, history, boards and closing a day."""
