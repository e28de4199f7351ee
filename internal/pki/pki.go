// Package pki is the cluster's own certificate authority. It creates the
// CA, issues node and client certificates signed by it, and builds the
// mutual-TLS configurations that trust that CA and nothing else (never the
// system roots).
//
// Keys are ECDSA P-256, which every TLS 1.3 implementation accepts. A
// directory holds ca.crt and ca.key, and NAME.crt and NAME.key for each
// node or client. Certificates are written with mode 0644 and keys with
// 0600, from the moment the file exists; each file is written to a
// temporary file, synced and renamed into place, so a crash leaves either
// the old file or the new one, never half of one.
//
// A certificate says what it is for in its subject: CN is the node or
// client name, OU is its Kind ("node" or "client") and O is "vigil
// CLUSTER". Node certificates allow server and client authentication and
// name the node and its addresses; client certificates allow client
// authentication only, so an operator's certificate cannot impersonate a
// node.
//
// No key material ever appears in an error, a log or an Info.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Kind is what a certificate is for.
type Kind string

// The kinds of certificate.
const (
	KindNode   Kind = "node"   // a cluster member: server and client authentication
	KindClient Kind = "client" // an operator or tool: client authentication only
	KindCA     Kind = "ca"     // the cluster CA itself
)

// File names in a directory.
const (
	CAFile    = "ca.crt"
	CAKeyFile = "ca.key"
)

// Validity periods. A leaf never outlives the CA that signed it.
const (
	CAYears   = 10
	LeafYears = 2
	// Backdate is how far before now a certificate becomes valid, so that a
	// node whose clock is a little behind the issuer's accepts it at once.
	Backdate = time.Hour
)

// Errors that callers branch on; check them with errors.Is.
var (
	// ErrExists: the file Init or Issue would write exists, and
	// Options.Force was not set. Nothing was written.
	ErrExists = errors.New("already exists")
	// ErrNoCA: the directory has no CA (or not its key, for Issue).
	ErrNoCA = errors.New("no CA")
	// ErrInvalid: a name, address or kind is not acceptable. Nothing was
	// written.
	ErrInvalid = errors.New("invalid")
	// ErrUnverified: a connection's peer presented no verified
	// certificate of this CA's kinds.
	ErrUnverified = errors.New("unverified peer")
)

// problem is an error with its own message that matches a sentinel.
type problem struct {
	kind error
	msg  string
}

func (p *problem) Error() string        { return p.msg }
func (p *problem) Is(target error) bool { return target == p.kind }

func errorf(kind error, format string, args ...any) error {
	return &problem{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Options change what Init and Issue do; the zero value is the safe one.
type Options struct {
	// Force replaces files that exist. For Init it replaces the CA, after
	// which no certificate the old CA issued is trusted.
	Force bool
}

// Result is what Init or Issue wrote.
type Result struct {
	CertFile    string `json:"cert_file"`
	KeyFile     string `json:"key_file"`
	Certificate Info   `json:"certificate"`
	// Replaced is the certificate that was there before (Options.Force),
	// or nil.
	Replaced *Info `json:"replaced"`
}

// Init creates the CA of cluster in dir (created with mode 0700 if
// absent): a self-signed certificate valid for CAYears from now, that may
// sign leaf certificates only (path length 0). It refuses, with ErrExists,
// a directory that has a CA or a CA key unless opt.Force is set, and an
// invalid cluster name with ErrInvalid; either way it writes nothing.
func Init(dir, cluster string, now time.Time, opt Options) (Result, error) {
	if !ValidName(cluster) {
		return Result{}, errorf(ErrInvalid, "tls init: cluster name %q is not valid: %s", cluster, NameRule)
	}
	certFile, keyFile := filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	var replaced *Info
	if old, err := Inspect(certFile, certFile, now); err == nil {
		replaced = &old
	}
	if !opt.Force {
		if replaced != nil {
			return Result{}, errorf(ErrExists, "tls init: %s already has the CA of cluster %q (fingerprint %s, valid until %s); replacing it makes every certificate it issued untrusted, so it takes --force",
				dir, replaced.Cluster, replaced.Fingerprint, day(replaced.NotAfter))
		}
		for _, f := range []string{certFile, keyFile} {
			if _, err := os.Lstat(f); err == nil {
				return Result{}, errorf(ErrExists, "tls init: %s exists; remove it or pass --force to create a new CA", f)
			}
		}
	}
	if err := makeDir(dir); err != nil {
		return Result{}, fmt.Errorf("tls init: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Result{}, fmt.Errorf("tls init: generate key: %w", err)
	}
	org := "vigil " + cluster
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: org + " CA", Organization: []string{org}},
		NotBefore:             now.Add(-Backdate),
		NotAfter:              now.AddDate(CAYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return Result{}, fmt.Errorf("tls init: create certificate: %w", err)
	}
	if err := writePair(certFile, keyFile, der, key); err != nil {
		return Result{}, fmt.Errorf("tls init: %w", err)
	}
	info, err := Inspect(certFile, certFile, now)
	if err != nil {
		return Result{}, fmt.Errorf("tls init: %w", err)
	}
	return Result{CertFile: certFile, KeyFile: keyFile, Certificate: info, Replaced: replaced}, nil
}

// Issue issues a certificate for name, signed by the CA in dir, and writes
// it as NAME.crt and NAME.key there. A node certificate names the node
// (a DNS name) and each of sans (IP addresses or DNS names); a client
// certificate takes no sans. It is valid for LeafYears from now, or until
// the CA expires if that is sooner.
//
// It refuses, writing nothing: an invalid name, kind or SAN (ErrInvalid);
// a directory without a CA or its key (ErrNoCA); a CA that is not valid
// at now; and NAME.crt or NAME.key that exist, unless opt.Force is set
// (ErrExists).
func Issue(dir, name string, kind Kind, sans []string, now time.Time, opt Options) (Result, error) {
	if !ValidName(name) {
		return Result{}, errorf(ErrInvalid, "tls issue: %q is not a valid node or client name: %s", name, NameRule)
	}
	if name == "ca" {
		return Result{}, errorf(ErrInvalid, "tls issue: %q is reserved for the CA's own files", name)
	}
	dns, ips := []string{name}, []net.IP(nil)
	switch kind {
	case KindNode:
		var err error
		if dns, ips, err = parseSANs(name, sans); err != nil {
			return Result{}, fmt.Errorf("tls issue %s: %w", name, err)
		}
	case KindClient:
		if len(sans) > 0 {
			return Result{}, errorf(ErrInvalid, "tls issue %s: a client certificate names no addresses (SANs are for node certificates)", name)
		}
		dns = nil
	default:
		return Result{}, errorf(ErrInvalid, "tls issue %s: kind %q is not %s or %s", name, kind, KindNode, KindClient)
	}
	ca, caKey, err := loadCA(dir)
	if err != nil {
		return Result{}, fmt.Errorf("tls issue %s: %w", name, err)
	}
	if now.Before(ca.NotBefore) || !now.Before(ca.NotAfter) {
		return Result{}, fmt.Errorf("tls issue %s: the CA in %s is valid from %s to %s, not now (%s); create a new one with 'vigil tls init --force'",
			name, dir, day(ca.NotBefore), day(ca.NotAfter), day(now))
	}
	certFile, keyFile := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	var replaced *Info
	if old, err := Inspect(certFile, filepath.Join(dir, CAFile), now); err == nil {
		replaced = &old
	}
	if !opt.Force {
		for _, f := range []string{certFile, keyFile} {
			if _, err := os.Lstat(f); err == nil {
				return Result{}, errorf(ErrExists, "tls issue %s: %s exists; pass --force to replace it (to renew it, for instance)", name, f)
			}
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Result{}, fmt.Errorf("tls issue %s: generate key: %w", name, err)
	}
	usage := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if kind == KindNode {
		usage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	notBefore := now.Add(-Backdate)
	if notBefore.Before(ca.NotBefore) {
		notBefore = ca.NotBefore
	}
	notAfter := now.AddDate(LeafYears, 0, 0)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject: pkix.Name{
			CommonName:         name,
			OrganizationalUnit: []string{string(kind)},
			Organization:       ca.Subject.Organization,
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           usage,
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return Result{}, fmt.Errorf("tls issue %s: create certificate: %w", name, err)
	}
	if err := writePair(certFile, keyFile, der, key); err != nil {
		return Result{}, fmt.Errorf("tls issue %s: %w", name, err)
	}
	info, err := Inspect(certFile, filepath.Join(dir, CAFile), now)
	if err != nil {
		return Result{}, fmt.Errorf("tls issue %s: %w", name, err)
	}
	return Result{CertFile: certFile, KeyFile: keyFile, Certificate: info, Replaced: replaced}, nil
}

// loadCA reads the CA certificate and key of dir and checks that they
// belong together.
func loadCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certFile, keyFile := filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) {
		return nil, nil, errorf(ErrNoCA, "no CA in %s: run 'vigil tls init' first (or pass --dir)", dir)
	}
	ca, err := readCert(certFile)
	if err != nil {
		return nil, nil, err
	}
	if !ca.IsCA {
		return nil, nil, fmt.Errorf("%s is not a CA certificate", certFile)
	}
	if _, err := os.Stat(keyFile); errors.Is(err, os.ErrNotExist) {
		return nil, nil, errorf(ErrNoCA, "%s has %s but not %s: issue certificates on the host that keeps the CA key", dir, CAFile, CAKeyFile)
	}
	key, err := readKey(keyFile)
	if err != nil {
		return nil, nil, err
	}
	if !key.PublicKey.Equal(ca.PublicKey) {
		return nil, nil, fmt.Errorf("%s does not belong to %s; recreate the CA with 'vigil tls init --force'", keyFile, certFile)
	}
	return ca, key, nil
}

// writePair writes the key, then the certificate. Each is replaced
// atomically; should the process die between the two, the key no longer
// matches the certificate, which every reader reports.
func writePair(certFile, keyFile string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	if err := writeFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// serial returns a random positive 128-bit serial number.
func serial() *big.Int {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails; it crashes the program instead
	n := new(big.Int).SetBytes(b)
	if n.Sign() == 0 {
		n.SetInt64(1)
	}
	return n
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }
