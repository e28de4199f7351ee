package config

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vigil-ha/vigil/internal/model"
)

// Load reads the file at path and returns the validated config. Messages
// name the path as given; a relative secret_file is resolved against the
// file's directory. A file that cannot be read gives a wrapped os error; a
// file with problems gives a *Error.
func Load(path string) (model.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return model.Config{}, fmt.Errorf("load config: %w", err)
	}
	return Parse(path, filepath.Dir(path), data)
}

// Parse decodes and validates data. name is the file name used in
// messages; dir is where a relative secret_file is resolved. It reads
// nothing but the secret file. If anything is wrong it returns a zero
// Config and a *Error listing every problem.
func Parse(name, dir string, data []byte) (model.Config, error) {
	d := newDecoder(name)
	f, ok := d.document(data)
	var c model.Config
	if ok {
		c = d.validate(f, dir)
	}
	if len(d.problems) > 0 {
		sortProblems(d.problems)
		return model.Config{}, &Error{Problems: d.problems}
	}
	return c, nil
}
