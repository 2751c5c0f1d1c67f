"""Exports of the reports: CSV and ODS spreadsheets with French headers and dates (items, deadlines,
scorecards), and the open-data export (CSV and its Table Schema descriptor, public fields only)."""
