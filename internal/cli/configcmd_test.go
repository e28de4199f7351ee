package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigValidate(t *testing.T) {
	path := writeFile(t, "vigil.yaml", `version: 1
cluster: demo
secret: "correct horse battery staple"
nodes:
  - name: n1
    addresses: [198.18.0.1]
  - name: n2
    addresses: [198.18.0.2]
  - name: n3
    addresses: [198.18.0.3]
`)
	r := runCLI(t, nil, "config", "validate", path)
	if r.code != ExitOK {
		t.Fatalf("exit %d, want 0\nstderr: %s", r.code, r.stderr)
	}
	if want := path + ": valid\n"; !strings.HasPrefix(r.stdout, want) {
		t.Errorf("stdout does not start with %q:\n%s", want, r.stdout)
	}
	if !strings.Contains(r.stdout, "3 nodes (n1 n2 n3)") {
		t.Errorf("stdout does not summarise the nodes:\n%s", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("stderr: %q, want nothing", r.stderr)
	}
}

// An invalid file gets every problem as FILE:LINE: FIELD: MESSAGE on
// stderr, and exit code 2.
func TestConfigValidateInvalid(t *testing.T) {
	path := writeFile(t, "bad.yaml", `version: 1
cluster: demo
secret: "short"
nodes:
  - name: n1
    addresses: [198.18.0.1]
  - name: n2
    addresses: [198.18.0.300]
`)
	r := runCLI(t, nil, "config", "validate", path)
	if r.code != ExitUsage {
		t.Errorf("exit %d, want %d", r.code, ExitUsage)
	}
	if r.stdout != "" {
		t.Errorf("stdout: %q, want nothing", r.stdout)
	}
	// The directory is a fresh temporary one; the golden names it $DIR.
	checkGolden(t, "config-validate-invalid", strings.ReplaceAll(r.stderr, filepath.Dir(path), "$DIR"))
}

func TestConfigValidateMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.yaml")
	r := runCLI(t, nil, "config", "validate", path)
	if r.code != ExitUsage {
		t.Errorf("exit %d, want %d", r.code, ExitUsage)
	}
	if !strings.Contains(r.stderr, "no such file") {
		t.Errorf("stderr does not say the file is missing:\n%s", r.stderr)
	}
}
