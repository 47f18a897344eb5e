"""Screens of the console: help, task detail, nodes, value forms and the quit choice."""
