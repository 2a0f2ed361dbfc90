// Package template expands the small templates of sink and processor
// options: literal text with placeholders `{{ path }}` (the field at a
// dotted path) and `{{ meta.key }}` (a meta key), parsed once at start
// and expanded per event without allocating.
package template
