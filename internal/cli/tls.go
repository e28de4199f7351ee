package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/internal/config"
	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/pki"
)

// DefaultTLSDir is where a node keeps the cluster CA's certificate and its
// own certificate and key; VIGIL_TLS_DIR or --dir point elsewhere.
const DefaultTLSDir = "/etc/vigil/tls"

// tlsDir is the certificate directory: the flag, else VIGIL_TLS_DIR, else
// the default.
func (e *env) tlsDir(flag string) string {
	if flag != "" {
		return flag
	}
	if s := e.getenv("VIGIL_TLS_DIR"); s != "" {
		return s
	}
	return DefaultTLSDir
}

// pkiError gives a pki error its exit code: a bad name or address is a
// usage error, anything else (a CA that exists, or is missing) a failure.
func pkiError(err error) error {
	if errors.Is(err, pki.ErrInvalid) {
		return usageError{err}
	}
	return err
}

func (e *env) tlsCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "tls",
		Short: "The cluster's own certificate authority: create it, issue and show certificates",
		Long: `vigil runs its own certificate authority for mutual TLS between nodes and
for remote CLI use; it trusts that CA and nothing else, never the system's.

  vigil tls init            creates the CA: ca.crt (0644) and ca.key (0600)
  vigil tls issue NAME      issues NAME.crt (0644) and NAME.key (0600) for a
                            node, or with --client for an operator
  vigil tls show FILE       shows a certificate and checks it against the CA

Run init and issue on one host that keeps ca.key (an operator's machine, or
one node), then copy ca.crt and each node's own NAME.crt and NAME.key to
that node's ` + DefaultTLSDir + `. ca.key never leaves that host: whoever has it
can make certificates the whole cluster trusts.

Keys are ECDSA P-256; certificates are for TLS 1.3. Files are written
atomically, with their final mode from the start.`,
		Example: `  vigil tls init --cluster demo
  vigil tls issue n1 --config /etc/vigil/vigil.yaml
  vigil tls issue admin --client
  vigil tls show /etc/vigil/tls/n1.crt`,
	}
	c.PersistentFlags().StringVar(&dir, "dir", "", "directory of the CA and the certificates (default $VIGIL_TLS_DIR or "+DefaultTLSDir+")")
	c.AddCommand(e.tlsInitCmd(&dir), e.tlsIssueCmd(&dir), e.tlsShowCmd(&dir))
	return c
}

func (e *env) tlsInitCmd(dir *string) *cobra.Command {
	var output, cluster, cfgFile string
	var force bool
	c := &cobra.Command{
		Use:   "init",
		Short: "Create the cluster's certificate authority",
		Long: `Create the cluster's certificate authority in the directory: a self-signed
CA certificate, ca.crt (mode 0644), valid for 10 years, that can sign
node and client certificates only, and its key, ca.key (mode 0600). The
directory is created with mode 0700 if it does not exist.

The cluster name comes from --cluster, else from the config file
(--config, else $VIGIL_CONFIG, else ` + DefaultConfig + `).

A directory that already has a CA is refused (exit 1): a new CA makes
every certificate of the old one untrusted. --force replaces it, and says
which CA it replaced.`,
		Example: `  vigil tls init --cluster demo
  vigil tls init --config /etc/vigil/vigil.yaml --dir /root/vigil-ca
  vigil tls init --cluster demo --force -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if cluster == "" {
				path := e.configPath(cfgFile)
				cfg, err := config.Load(path)
				if err != nil {
					return usagef("which cluster? pass --cluster NAME, or --config FILE to take its name from the config:\n%v", err)
				}
				cluster = cfg.Cluster
			}
			d := e.tlsDir(*dir)
			r, err := pki.Init(d, cluster, time.Now(), pki.Options{Force: force})
			if err != nil {
				return pkiError(err)
			}
			if output == "json" {
				return writeJSON(e.stdout, r)
			}
			writeInit(e.stdout, d, tlsDirFlag(*dir), r)
			return nil
		},
	}
	c.Flags().StringVar(&cluster, "cluster", "", "the cluster's name (default: the config's)")
	c.Flags().StringVar(&cfgFile, "config", "", "config file to take the cluster's name from (default $VIGIL_CONFIG or "+DefaultConfig+")")
	c.Flags().BoolVar(&force, "force", false, "replace an existing CA; every certificate it issued stops being trusted")
	outputFlag(c, &output)
	return c
}

// tlsDirFlag is what to add to a suggested command so it uses the same
// directory: the --dir given, if any.
func tlsDirFlag(dir string) string {
	if dir == "" {
		return ""
	}
	return " --dir " + dir
}

func writeInit(w io.Writer, dir, dirFlag string, r pki.Result) {
	ca := r.Certificate
	verb := "Created"
	if r.Replaced != nil {
		verb = "Replaced"
	}
	fmt.Fprintf(w, "%s the CA of cluster %s in %s.\n", verb, ca.Cluster, dir)
	fmt.Fprintf(w, "  %s  %s, valid until %s\n", pki.CAFile, ca.Subject, tlsDay(ca.NotAfter))
	fmt.Fprintf(w, "          SHA-256 fingerprint %s\n", ca.Fingerprint)
	fmt.Fprintf(w, "  %s  mode 0600: it signs every certificate the cluster trusts; keep it\n", pki.CAKeyFile)
	fmt.Fprintf(w, "          on this host (or offline), and copy only ca.crt to the nodes.\n")
	if old := r.Replaced; old != nil {
		fmt.Fprintf(w, "\nThe CA it replaced (cluster %s, fingerprint %s) is no longer trusted, nor\n", old.Cluster, old.Fingerprint)
		fmt.Fprintf(w, "any certificate it issued: reissue each with 'vigil tls issue NAME --force'\n")
		fmt.Fprintf(w, "and copy the new ca.crt to every node and operator.\n")
	}
	fmt.Fprintf(w, "\nNext, a certificate for each node and each operator:\n")
	fmt.Fprintf(w, "  vigil tls issue NODE --config %s%s\n", DefaultConfig, dirFlag)
	fmt.Fprintf(w, "  vigil tls issue admin --client%s\n", dirFlag)
}

func (e *env) tlsIssueCmd(dir *string) *cobra.Command {
	var output, cfgFile string
	var client, force bool
	var sans []string
	c := &cobra.Command{
		Use:   "issue NAME",
		Short: "Issue a certificate for a node, or with --client for an operator",
		Long: `Issue a certificate signed by the cluster CA, NAME.crt (mode 0644), and its
key, NAME.key (mode 0600), in the directory that holds ca.crt and ca.key.
NAME follows the rule of node names: 1 to 32 characters from a-z, 0-9 and
'-', starting with a letter.

A node certificate (the default) serves the node's API and authenticates
it to other nodes. It names the node and every address in --san (IP
addresses or DNS names); with --config FILE, the node's addresses in that
config are added, and the config must be the CA's cluster's.

A client certificate (--client) authenticates an operator or a tool to the
nodes; it cannot serve, so it cannot pose as a node.

Certificates are valid for 2 years, never beyond the CA. An existing
NAME.crt or NAME.key is refused (exit 1); --force replaces it, to renew
it for instance. The replaced certificate stays trusted until it
expires: there is no revocation yet.`,
		Example: `  vigil tls issue n1 --config /etc/vigil/vigil.yaml
  vigil tls issue n1 --san 198.18.0.1 --san 198.18.1.1 --san n1.example.com
  vigil tls issue n1 --config /etc/vigil/vigil.yaml --force    # renew
  vigil tls issue admin --client`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			name := args[0]
			d := e.tlsDir(*dir)
			now := time.Now()
			kind := pki.KindNode
			if client {
				kind = pki.KindClient
				if len(sans) > 0 || cfgFile != "" {
					return usagef("--san and --config name a node's addresses; a client certificate (--client) has none")
				}
			}
			if cfgFile != "" {
				addrs, err := nodeAddresses(cfgFile, name, d, now)
				if err != nil {
					return err
				}
				sans = append(addrs, sans...)
			}
			r, err := pki.Issue(d, name, kind, sans, now, pki.Options{Force: force})
			if err != nil {
				return pkiError(err)
			}
			if output == "json" {
				return writeJSON(e.stdout, r)
			}
			if kind == pki.KindNode && len(r.Certificate.IPAddresses) == 0 {
				fmt.Fprintf(e.stderr, "vigil: note: %s names no address, so a client must reach %s by the name %s; add --san ADDR or --config FILE\n",
					filepath.Base(r.CertFile), name, name)
			}
			writeIssue(e.stdout, d, r, now)
			return nil
		},
	}
	c.Flags().BoolVar(&client, "client", false, "issue a client certificate, for an operator or a tool")
	c.Flags().StringSliceVar(&sans, "san", nil, "an IP address or DNS name of the node (repeat, or separate with commas)")
	c.Flags().StringVar(&cfgFile, "config", "", "config file whose entry for node NAME supplies its addresses")
	c.Flags().BoolVar(&force, "force", false, "replace an existing NAME.crt and NAME.key")
	outputFlag(c, &output)
	return c
}

// nodeAddresses returns the addresses of node name in the config file,
// after checking that the config is for the cluster of the CA in dir.
func nodeAddresses(file, name, dir string, now time.Time) ([]string, error) {
	cfg, err := config.Load(file)
	if err != nil {
		return nil, usageError{err}
	}
	if ca, err := pki.Inspect(filepath.Join(dir, pki.CAFile), "", now); err == nil && ca.Cluster != cfg.Cluster {
		return nil, usagef("%s is the config of cluster %q, but the CA in %s is cluster %q's", file, cfg.Cluster, dir, ca.Cluster)
	}
	var names []string
	for _, n := range cfg.Nodes {
		if n.Name != model.NodeID(name) {
			names = append(names, string(n.Name))
			continue
		}
		addrs := make([]string, len(n.Addresses))
		for i, a := range n.Addresses {
			addrs[i] = a.String()
		}
		return addrs, nil
	}
	return nil, usagef("%s is not a node of %s (its nodes: %s); for an operator, pass --client and no --config", name, file, strings.Join(names, ", "))
}

func writeIssue(w io.Writer, dir string, r pki.Result, now time.Time) {
	c := r.Certificate
	crt, key := filepath.Base(r.CertFile), filepath.Base(r.KeyFile)
	pad := strings.Repeat(" ", len(crt)-len(key))
	fmt.Fprintf(w, "Issued a %s certificate for %s (cluster %s), signed by the CA in %s.\n", c.Kind, c.Name, c.Cluster, dir)
	if c.Kind == pki.KindNode {
		fmt.Fprintf(w, "  %s  names %s\n", crt, strings.Join(certNames(c), ", "))
		fmt.Fprintf(w, "  %s  valid %s to %s\n", strings.Repeat(" ", len(crt)), tlsDay(c.NotBefore), certUntil(c, now))
	} else {
		fmt.Fprintf(w, "  %s  valid %s to %s\n", crt, tlsDay(c.NotBefore), certUntil(c, now))
	}
	fmt.Fprintf(w, "  %s  SHA-256 fingerprint %s\n", strings.Repeat(" ", len(crt)), c.Fingerprint)
	fmt.Fprintf(w, "  %s%s  mode 0600\n", key, pad)
	if old := r.Replaced; old != nil {
		fmt.Fprintf(w, "\nIt replaced the certificate with fingerprint %s, which stays\n", old.Fingerprint)
		fmt.Fprintf(w, "trusted until it expires on %s: there is no revocation yet.\n", tlsDay(old.NotAfter))
	}
	if c.Kind == pki.KindNode {
		fmt.Fprintf(w, "\nOn %s, put %s, %s and %s in %s (owned by root, %s mode 0600).\n", c.Name, pki.CAFile, crt, key, DefaultTLSDir, key)
	} else {
		fmt.Fprintf(w, "\nAn operator using it needs %s, %s and %s (%s mode 0600, readable only by them).\n", pki.CAFile, crt, key, key)
	}
	fmt.Fprintf(w, "Never copy %s.\n", pki.CAKeyFile)
}

func (e *env) tlsShowCmd(dir *string) *cobra.Command {
	var output, caFile string
	c := &cobra.Command{
		Use:   "show FILE",
		Short: "Show a certificate and check it against the CA",
		Long: `Show a certificate: what it is for (node, client or CA), its names,
dates and SHA-256 fingerprint (as 'openssl x509 -fingerprint -sha256'
prints it), and whether it is valid now: signed by the CA and within its
dates. The CA is --ca, else ca.crt beside FILE, else ca.crt in the
directory (--dir).

Exit 0 if the certificate is valid now, 1 if it is not (expired, not yet
valid, another CA's, or no CA to check it against), 2 if FILE is not a
certificate. It never shows a key: given one, it says so.`,
		Example: `  vigil tls show /etc/vigil/tls/n1.crt
  vigil tls show admin.crt --ca /etc/vigil/tls/ca.crt -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			file := args[0]
			ca := caFile
			if ca == "" {
				ca = filepath.Join(filepath.Dir(file), pki.CAFile)
				if _, err := os.Stat(ca); err != nil {
					ca = filepath.Join(e.tlsDir(*dir), pki.CAFile)
				}
			}
			now := time.Now()
			info, err := pki.Inspect(file, ca, now)
			if err != nil {
				return usageError{err}
			}
			if output == "json" {
				if err := writeJSON(e.stdout, info); err != nil {
					return err
				}
			} else {
				writeCertInfo(e.stdout, info, now)
			}
			if !info.Valid {
				return exitError{code: ExitFailure, err: fmt.Errorf("%s is not valid: %s", file, info.Problem)}
			}
			return nil
		},
	}
	c.Flags().StringVar(&caFile, "ca", "", "CA certificate to check against (default: ca.crt beside FILE, else in --dir)")
	outputFlag(c, &output)
	return c
}

func writeCertInfo(w io.Writer, c pki.Info, now time.Time) {
	kind := map[pki.Kind]string{
		pki.KindNode:   "node (server and client authentication)",
		pki.KindClient: "client (client authentication only)",
		pki.KindCA:     "CA (signs node and client certificates)",
	}[c.Kind]
	if kind == "" {
		kind = "unknown: not a certificate vigil issued"
	}
	ca, verdict := c.CA, "valid: signed by the CA, within its dates"
	if ca == "" {
		ca = "none"
	}
	if !c.Valid {
		verdict = "NOT VALID: " + c.Problem
	}
	names := strings.Join(certNames(c), ", ")
	if names == "" {
		names = "none"
	}
	rows := [][2]string{
		{"File", c.File},
		{"Kind", kind},
		{"Name", c.Name},
		{"Cluster", c.Cluster},
		{"Subject", c.Subject},
		{"Issuer", c.Issuer},
		{"Names", names},
		{"Valid from", c.NotBefore.Format(time.RFC3339)},
		{"Valid until", c.NotAfter.Format(time.RFC3339) + " (" + tlsLeft(c.NotAfter, now) + ")"},
		{"Serial", c.Serial},
		{"Fingerprint", "SHA-256 " + c.Fingerprint},
		{"CA", ca},
		{"Verdict", verdict},
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%-13s%s\n", r[0]+":", r[1])
	}
}

// certNames lists a certificate's DNS names, then its addresses.
func certNames(c pki.Info) []string {
	return append(append([]string{}, c.DNSNames...), c.IPAddresses...)
}

func certUntil(c pki.Info, now time.Time) string {
	return tlsDay(c.NotAfter) + " (" + tlsLeft(c.NotAfter, now) + ")"
}

// tlsLeft says how long until t, in days, or how long ago it was.
func tlsLeft(t, now time.Time) string {
	d := t.Sub(now)
	days := int(d.Hours() / 24)
	switch {
	case d < 0:
		return fmt.Sprintf("expired %d days ago", -days)
	case days == 1:
		return "1 day left"
	}
	return fmt.Sprintf("%d days left", days)
}

func tlsDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }
