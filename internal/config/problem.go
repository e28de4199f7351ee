package config

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a file.
type Problem struct {
	File string // the file name, as given to Load or Parse
	Line int    // 1-based; 0 when no line applies (an empty file)
	Path string // the field, like nodes[2].addresses[0]; empty for the whole file
	Msg  string
}

// String renders p as "file:line: path: msg", leaving out the line when it
// is 0 and the path when it is empty.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(p.Line))
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error is every problem of one file, in file order (by line, then path).
// Load and Parse return it as a *Error; callers that want the individual
// problems use errors.As.
type Error struct {
	Problems []Problem
}

// Error joins the problems' strings with newlines.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sortProblems puts ps in file order. The sort is stable, so problems on the
// same line and path keep the order in which they were found.
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Path, b.Path))
	})
}
