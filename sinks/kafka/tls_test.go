package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicehq/sluice/pipelines/config"
	"github.com/sluicehq/sluice/pipelines/event"
)

// selfSigned returns a server certificate for 127.0.0.1 and the path of
// its PEM file, which is also its CA.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, path
}

// TestTLS writes to a kfake that only speaks TLS, trusting its CA from
// tls.ca_file; without the CA the handshake fails.
func TestTLS(t *testing.T) {
	cert, caFile := selfSigned(t)
	kc := newCluster(t, kfake.SeedTopics(1, "logs"), kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
	s := newSink(t, Config{Brokers: kc.ListenAddrs(), Topic: "logs", Encoding: "text", TLS: &config.TLS{CAFile: caFile}}, settings())
	if err := s.Write(context.Background(), []*event.Event{logEvent("secret", nil)}); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(must(x509.ParseCertificate(cert.Certificate[0])))
	got := values(readAll(t, kc.ListenAddrs(), "logs", &tls.Config{RootCAs: pool}))
	if len(got) != 1 || got[0] != "secret" {
		t.Fatalf("read %q, want [secret]", got)
	}

	untrusting := newSink(t, Config{Brokers: kc.ListenAddrs(), Topic: "logs", TLS: &config.TLS{},
		Retry: config.Retry{InitialBackoff: config.Duration(time.Millisecond), MaxElapsed: config.Duration(time.Millisecond)}}, settings())
	err := untrusting.Write(context.Background(), []*event.Event{logEvent("x", nil)})
	var uerr x509.UnknownAuthorityError
	if err == nil || !errors.As(err, &uerr) {
		t.Fatalf("Write without the CA: %v, want an unknown authority error", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
