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
	return LoadWith(path, nil)
}

// LoadWith is Load with a check of each resource's parameters, as
// ParseWith.
func LoadWith(path string, check func(model.Resource) error) (model.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return model.Config{}, fmt.Errorf("load config: %w", err)
	}
	return ParseWith(path, filepath.Dir(path), data, check)
}

// Parse decodes and validates data. name is the file name used in
// messages; dir is where a relative secret_file is resolved. It reads
// nothing but the secret file. If anything is wrong it returns a zero
// Config and a *Error listing every problem.
func Parse(name, dir string, data []byte) (model.Config, error) {
	return ParseWith(name, dir, data, nil)
}

// ParseWith is Parse with a check of each resource's parameters by its
// kind (the daemon passes its agent registry's Validate). A problem it
// returns is reported at that resource's line as
// `resources[i].params: <message>`; if the error wraps several
// (errors.Join), each becomes its own Problem. check is called only for
// resources whose id, kind and params have no problem of their own, with
// defaults applied and Group set, each with its own copy of Params; it may
// do I/O (an OCF agent reads its meta-data), which Parse then does too. A
// nil check is Parse.
func ParseWith(name, dir string, data []byte, check func(model.Resource) error) (model.Config, error) {
	d := newDecoder(name)
	f, ok := d.document(data)
	var c model.Config
	if ok {
		c = d.validate(f, dir, check)
	}
	if len(d.problems) > 0 {
		sortProblems(d.problems)
		return model.Config{}, &Error{Problems: d.problems}
	}
	return c, nil
}
