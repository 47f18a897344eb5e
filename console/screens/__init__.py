"""Screens of the console: help, task detail, value forms and the quit choice."""
