package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Info describes a certificate. It holds nothing secret.
type Info struct {
	File    string `json:"file"`
	Subject string `json:"subject"`
	Name    string `json:"name"` // the common name: node, client or CA name
	// Kind is "" for a certificate vigil did not issue (or not as any of
	// its kinds).
	Kind        Kind      `json:"kind"`
	Cluster     string    `json:"cluster"`
	Issuer      string    `json:"issuer"`
	Serial      string    `json:"serial"` // hex
	DNSNames    []string  `json:"dns_names"`
	IPAddresses []string  `json:"ip_addresses"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	// Fingerprint is the SHA-256 of the DER certificate, as
	// `openssl x509 -fingerprint -sha256` prints it.
	Fingerprint string `json:"fingerprint_sha256"`
	// CA is the CA certificate it was checked against; "" if none could
	// be read (Problem says why).
	CA string `json:"ca"`
	// ChainsToCA: CA signed it (a CA chains to itself).
	ChainsToCA bool `json:"chains_to_ca"`
	// Valid: it chains to CA, and it and CA are valid at the time of the
	// check.
	Valid bool `json:"valid"`
	// Problem says why Valid is false.
	Problem string `json:"problem,omitempty"`
}

// Inspect describes the certificate in file and checks it against the CA
// certificate in caFile ("": ca.crt in file's directory) at now. A CA that
// cannot be read is not an error: Info.Problem says so and Valid is false.
// A file that is not a certificate is an error (one that holds a key says
// so, and shows nothing of it).
func Inspect(file, caFile string, now time.Time) (Info, error) {
	cert, err := readCert(file)
	if err != nil {
		return Info{}, err
	}
	info := describe(file, cert)
	if caFile == "" {
		caFile = filepath.Join(filepath.Dir(file), CAFile)
	}
	ca, err := readCert(caFile)
	if err != nil {
		info.Problem = fmt.Sprintf("not checked: no CA certificate: %v", err)
		return info, nil
	}
	info.CA = caFile
	info.ChainsToCA = ca.IsCA && (cert.Equal(ca) || cert.CheckSignatureFrom(ca) == nil)
	if err := verify(cert, ca, now, x509.ExtKeyUsageAny); err != nil {
		info.Problem = err.Error()
		if !info.ChainsToCA {
			info.Problem = fmt.Sprintf("not signed by the CA in %s: another CA issued it (an older one, or another cluster's)", caFile)
		}
		return info, nil
	}
	info.Valid = true
	return info, nil
}

// verify checks that ca signed cert, for usage, and that both are valid
// at now. Its messages say what is wrong in an operator's words.
func verify(cert, ca *x509.Certificate, now time.Time, usage x509.ExtKeyUsage) error {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	_, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage}})
	var inv x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &unknown):
		return fmt.Errorf("not signed by this CA (%s)", ca.Subject.CommonName)
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		c := inv.Cert // the leaf or the CA
		if c == nil {
			c = cert
		}
		switch {
		case now.After(c.NotAfter):
			return fmt.Errorf("%s expired on %s", c.Subject.CommonName, c.NotAfter.UTC().Format(time.RFC3339))
		default:
			return fmt.Errorf("%s is not valid before %s", c.Subject.CommonName, c.NotBefore.UTC().Format(time.RFC3339))
		}
	case errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage:
		return fmt.Errorf("%s is not for this use (%s)", cert.Subject.CommonName, usageName(usage))
	}
	return err
}

func usageName(u x509.ExtKeyUsage) string {
	switch u {
	case x509.ExtKeyUsageServerAuth:
		return "a server needs a node certificate"
	case x509.ExtKeyUsageClientAuth:
		return "client authentication"
	}
	return "any"
}

// describe is what a certificate says about itself.
func describe(file string, c *x509.Certificate) Info {
	sum := sha256.Sum256(c.Raw)
	hex := make([]string, len(sum))
	for i, b := range sum {
		hex[i] = fmt.Sprintf("%02X", b)
	}
	info := Info{
		File:        file,
		Subject:     c.Subject.String(),
		Name:        c.Subject.CommonName,
		Kind:        kindOf(c),
		Issuer:      c.Issuer.String(),
		Serial:      fmt.Sprintf("%x", c.SerialNumber),
		DNSNames:    slices.Clone(c.DNSNames),
		IPAddresses: []string{},
		NotBefore:   c.NotBefore.UTC(),
		NotAfter:    c.NotAfter.UTC(),
		Fingerprint: strings.Join(hex, ":"),
	}
	if info.DNSNames == nil {
		info.DNSNames = []string{}
	}
	for _, ip := range c.IPAddresses {
		info.IPAddresses = append(info.IPAddresses, ip.String())
	}
	if len(c.Subject.Organization) == 1 {
		info.Cluster, _ = strings.CutPrefix(c.Subject.Organization[0], "vigil ")
	}
	return info
}

// kindOf returns what c is for, if vigil issued it as one of its kinds:
// the OU must agree with the key usages, so that a certificate whose OU
// says "node" but may not serve is no node.
func kindOf(c *x509.Certificate) Kind {
	if c.IsCA {
		if c.BasicConstraintsValid && c.KeyUsage&x509.KeyUsageCertSign != 0 {
			return KindCA
		}
		return ""
	}
	if len(c.Subject.OrganizationalUnit) != 1 {
		return ""
	}
	server := slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	client := slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	switch Kind(c.Subject.OrganizationalUnit[0]) {
	case KindNode:
		if server && client && len(c.ExtKeyUsage) == 2 {
			return KindNode
		}
	case KindClient:
		if client && len(c.ExtKeyUsage) == 1 {
			return KindClient
		}
	}
	return ""
}
