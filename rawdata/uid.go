package rawdata

import (
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"strings"
)

// NewUID returns a fresh UID under the UUID-derived root 2.25 (PS3.5 §B.2):
// "2.25." followed by the decimal value of 128 random bits.
func NewUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // variant
	return "2.25." + new(big.Int).SetBytes(b[:]).String()
}

// DeriveUID returns a UID that is a pure function of its parts (for example
// an input UID, a job and a role), so that the same work produces the same
// instance again after a crash rather than a second copy. It uses 128 bits
// of SHA-256 in the 2.25 form (PS3.5 §B.2, name-based UUID spirit).
func DeriveUID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	b := h[:16]
	b[6] = b[6]&0x0f | 0x50 // version 5-style marker
	b[8] = b[8]&0x3f | 0x80
	return "2.25." + new(big.Int).SetBytes(b).String()
}
