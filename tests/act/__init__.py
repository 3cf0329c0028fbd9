"""Tests of the act stage: routing rules and SLA clocks."""
