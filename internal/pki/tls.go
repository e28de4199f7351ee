package pki

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"path/filepath"
)

// Identity is who the other end of a verified connection is: a name and
// kind from a certificate the cluster CA issued.
type Identity struct {
	Name    string `json:"name"`
	Kind    Kind   `json:"kind"` // KindNode or KindClient
	Cluster string `json:"cluster"`
}

func (id Identity) String() string { return fmt.Sprintf("%s %s", id.Kind, id.Name) }

// ServerConfig returns the TLS configuration of node name's listeners:
// TLS 1.3 only, name's node certificate, and every client must present a
// certificate that the CA in dir issued (a node's or a client's). It reads
// ca.crt, NAME.crt and NAME.key, never ca.key. A client certificate cannot
// serve: that is an error here, before any connection.
//
// The files are read once; a renewed certificate takes a new config.
func ServerConfig(dir, name string) (*tls.Config, error) {
	ca, pair, err := loadLeaf(dir, name, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, fmt.Errorf("tls server %s: %w", name, err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{pair},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		// The chain is verified by then; this refuses a certificate of the
		// CA that is not one of our kinds.
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := Peer(cs)
			return err
		},
	}, nil
}

// ClientConfig returns the TLS configuration with which name (a node or a
// client) connects to the node serverName: TLS 1.3 only, name's
// certificate, and the server must present a node certificate of the CA
// in dir that names serverName (a node name, or an address the
// certificate lists). The system roots are never consulted.
func ClientConfig(dir, name, serverName string) (*tls.Config, error) {
	if serverName == "" {
		return nil, errorf(ErrInvalid, "tls client %s: no server name to verify the server against", name)
	}
	ca, pair, err := loadLeaf(dir, name, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, fmt.Errorf("tls client %s: %w", name, err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{pair},
		RootCAs:      pool,
		ServerName:   serverName,
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, err := Peer(cs)
			if err != nil {
				return err
			}
			if id.Kind != KindNode {
				return fmt.Errorf("tls: server %s is a %s, not a node", id.Name, id.Kind)
			}
			return nil
		},
	}, nil
}

// Peer returns the identity that the peer of a handshake proved with its
// certificate: the first certificate of the first verified chain, whose
// kind must be node or client. A connection without a verified chain (no
// certificate, or verification was skipped) is ErrUnverified, so a caller
// that authorises by Peer cannot be fooled by a certificate nobody
// checked.
func Peer(cs tls.ConnectionState) (Identity, error) {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return Identity{}, errorf(ErrUnverified, "tls: the peer presented no verified certificate")
	}
	c := cs.VerifiedChains[0][0]
	info := describe("", c)
	if (info.Kind != KindNode && info.Kind != KindClient) || !ValidName(info.Name) {
		return Identity{}, errorf(ErrUnverified, "tls: the peer's certificate (%s) is not a vigil node or client certificate", info.Subject)
	}
	return Identity{Name: info.Name, Kind: info.Kind, Cluster: info.Cluster}, nil
}

// loadLeaf reads the CA certificate and name's pair from dir, and checks
// that the pair belongs together, that the CA signed it and that it
// allows usage.
func loadLeaf(dir, name string, usage x509.ExtKeyUsage) (*x509.Certificate, tls.Certificate, error) {
	if !ValidName(name) || name == "ca" {
		return nil, tls.Certificate{}, errorf(ErrInvalid, "%q is not a valid node or client name: %s", name, NameRule)
	}
	ca, err := readCert(filepath.Join(dir, CAFile))
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	certFile, keyFile := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	cert, err := readCert(certFile)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	key, err := readKey(keyFile)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, tls.Certificate{}, fmt.Errorf("%s does not belong to %s; reissue it with 'vigil tls issue %s --force'", keyFile, certFile, name)
	}
	if err := cert.CheckSignatureFrom(ca); err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("%s was not issued by the CA in %s", certFile, filepath.Join(dir, CAFile))
	}
	k := kindOf(cert)
	switch {
	case usage == x509.ExtKeyUsageServerAuth && k != KindNode:
		return nil, tls.Certificate{}, fmt.Errorf("%s is a %s certificate; a server needs a node certificate ('vigil tls issue %s' without --client)", certFile, kindWord(k), name)
	case k != KindNode && k != KindClient:
		return nil, tls.Certificate{}, fmt.Errorf("%s is not a vigil node or client certificate", certFile)
	}
	return ca, tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, nil
}

func kindWord(k Kind) string {
	if k == "" {
		return "foreign"
	}
	return string(k)
}
