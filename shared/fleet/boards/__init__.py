"""Boards of drivers and teams."""
