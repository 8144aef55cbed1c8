package htpasswd

import (
	"strings"

	"github.com/gobridge/gobridge/auth/internal/filecache"
	"github.com/gobridge/gobridge/sdk"
)

// DigestFile is an htdigest file ("user:realm:md5hex" lines, written by
// Apache's htdigest tool), for AuthType Digest. It implements
// sdk.RealmHasher and is re-read when it changes.
type DigestFile struct {
	f *filecache.File[map[[2]string]string]
}

// NewDigest returns the htdigest file at path, read on first use.
func NewDigest(path string) *DigestFile {
	return &DigestFile{f: filecache.New(path, parseDigest)}
}

// OpenDigest is NewDigest followed by a first read.
func OpenDigest(path string) (*DigestFile, error) {
	d := NewDigest(path)
	if _, err := d.f.Get(); err != nil {
		return nil, err
	}
	return d, nil
}

func parseDigest(b []byte) (map[[2]string]string, error) {
	m := make(map[[2]string]string)
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		parts := strings.SplitN(line, ":", 4)
		if len(parts) < 3 {
			continue
		}
		h := strings.ToLower(parts[2])
		if len(h) != 32 || strings.Trim(h, "0123456789abcdef") != "" {
			continue
		}
		k := [2]string{parts[0], parts[1]}
		if _, dup := m[k]; !dup {
			m[k] = h
		}
	}
	return m, nil
}

// RealmHash returns the stored hash of user in realm.
func (d *DigestFile) RealmHash(user, realm string) (string, sdk.AuthnResult, error) {
	m, err := d.f.Get()
	if err != nil {
		return "", sdk.AuthnGeneralError, err
	}
	h, ok := m[[2]string{user, realm}]
	if !ok {
		return "", sdk.AuthnUserNotFound, nil
	}
	return h, sdk.AuthnGranted, nil
}

// GetRealmHash implements sdk.RealmHasher.
func (d *DigestFile) GetRealmHash(_ *sdk.Request, user, realm string) (string, sdk.AuthnResult, error) {
	return d.RealmHash(user, realm)
}

var _ sdk.RealmHasher = (*DigestFile)(nil)
