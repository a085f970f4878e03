"""Tests of the review tool."""
