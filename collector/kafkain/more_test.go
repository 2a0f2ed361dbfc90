package kafkain

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/pipelines/config"
)

// TestFailedCommitIsRetried: offsets a Commit could not commit are
// committed by the next one, so a reopened group does not see them again.
func TestFailedCommitIsRetried(t *testing.T) {
	kc := newCluster(t, kfake.SeedTopics(1, "logs"))
	addrs := kc.ListenAddrs()
	produce(t, addrs, nil, kafka.Message{Topic: "logs", Value: []byte("a")}, kafka.Message{Topic: "logs", Value: []byte("b")})
	cfg := Config{Brokers: addrs, Group: "g", Topic: "logs"}
	r := newReader(t, cfg)
	pollN(t, r, 2)
	// kafka-go tries a commit 3 times before it gives up.
	kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: "g", Count: 3})
	err := r.Commit(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "commit kafka offsets of topic logs: ") {
		t.Fatalf("Commit while Kafka refuses it: %v", err)
	}
	if err := r.Commit(context.Background()); err != nil {
		t.Fatalf("second Commit: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2 := newReader(t, cfg)
	defer r2.Close()
	produce(t, addrs, nil, kafka.Message{Topic: "logs", Value: []byte("c")})
	got, _ := pollN(t, r2, 1)
	if string(got[0].Body) != "c" || got[0].Offset != 2 {
		t.Fatalf("after the retried commit polled %q at offset %d, want c at 2", got[0].Body, got[0].Offset)
	}
}

// TestTLS reads from a kfake that only speaks TLS, trusting its CA from
// tls.ca_file.
func TestTLS(t *testing.T) {
	cert, caFile := selfSigned(t)
	kc := newCluster(t, kfake.SeedTopics(1, "logs"), kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	produce(t, kc.ListenAddrs(), &tls.Config{RootCAs: pool}, kafka.Message{Topic: "logs", Value: []byte("secret")})
	r := newReader(t, Config{Brokers: kc.ListenAddrs(), Group: "g", Topic: "logs", TLS: &config.TLS{CAFile: caFile}})
	defer r.Close()
	got, _ := pollN(t, r, 1)
	if string(got[0].Body) != "secret" {
		t.Fatalf("polled %q", got[0].Body)
	}
	if _, err := New(Config{Brokers: []string{"h:1"}, Group: "g", Topic: "logs", TLS: &config.TLS{CAFile: caFile + ".missing"}}); err == nil ||
		!strings.HasPrefix(err.Error(), "kafka input logs: read tls.ca_file: open ") {
		t.Fatalf("New with a missing CA file: %v", err)
	}
}

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
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, path
}
