package conf

import (
	"strings"
	"testing"
)

// The job queue's port and URL beyond loopback need authentication and
// TLS; on loopback neither is required; secrets never ride in the URL.
func TestNATSSecurityChecks(t *testing.T) {
	cases := []struct {
		yaml string
		want string // "" : valid
	}{
		{"nats:\n  listen: 127.0.0.1:4222\n", ""},
		{"nats:\n  listen: localhost:4222\n", ""},
		{"nats:\n  listen: 0.0.0.0:4222\n", "beyond loopback: set user"},
		{"nats:\n  listen: :4222\n", "beyond loopback: set user"},
		{"nats:\n  listen: 10.0.0.5:4222\n  token_file: /t\n", "nats.tls.cert"},
		{"nats:\n  listen: 10.0.0.5:4222\n  tls: {cert: /c, key: /k}\n", "beyond loopback: set user"},
		{"nats:\n  listen: 10.0.0.5:4222\n  token_file: /t\n  tls: {cert: /c, key: /k}\n", ""},
		{"nats:\n  listen: 10.0.0.5:4222\n  credentials: /c.creds\n  tls: {cert: /c, key: /k}\n", "is for a client"},
		{"nats:\n  listen: 127.0.0.1:4222\n  user: w\n", "go together"},
		{"nats:\n  listen: 127.0.0.1:4222\n  user: w\n  password_file: /p\n  token_file: /t\n", "alternatives"},
		{"nats:\n  url: nats://127.0.0.1:4222\n", ""},
		{"nats:\n  url: nats://queue.example.org:4222\n", "set credentials"},
		{"nats:\n  url: nats://queue.example.org:4222\n  nkey_seed_file: /s\n", "use tls://"},
		{"nats:\n  url: tls://queue.example.org:4222\n  nkey_seed_file: /s\n", ""},
		{"nats:\n  url: nats://queue.example.org:4222\n  user: w\n  password_file: /p\n  tls: {ca: /ca.pem}\n", ""},
		{"nats:\n  url: tls://w:pw@queue.example.org:4222\n", "not in the URL"},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(tc.yaml), "t.yaml")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.yaml, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
