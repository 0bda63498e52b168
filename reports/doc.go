// Package reports turns questions about a process image into data —
// plain structs with stable JSON shapes (documented in docs/json.md) —
// and renders them as text and tables for people.
package reports
