package htpasswd

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"strconv"
	"strings"
)

// The crypt(3) alphabet, shared by every crypt-style format.
const itoa64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func to64(b *strings.Builder, v uint32, n int) {
	for ; n > 0; n-- {
		b.WriteByte(itoa64[v&0x3f])
		v >>= 6
	}
}

// md5Crypt is the MD5-based crypt with magic "$apr1$" (Apache's default)
// or "$1$" (glibc's): Poul-Henning Kamp's algorithm. salt is at most 8
// characters, up to the first '$'.
func md5Crypt(password, magic, salt string) string {
	if i := strings.IndexByte(salt, '$'); i >= 0 {
		salt = salt[:i]
	}
	if len(salt) > 8 {
		salt = salt[:8]
	}
	pw := []byte(password)
	alt := md5.New()
	alt.Write(pw)
	alt.Write([]byte(salt))
	alt.Write(pw)
	final := alt.Sum(nil)

	ctx := md5.New()
	ctx.Write(pw)
	ctx.Write([]byte(magic))
	ctx.Write([]byte(salt))
	for pl := len(pw); pl > 0; pl -= 16 {
		ctx.Write(final[:min(pl, 16)])
	}
	for i := len(pw); i != 0; i >>= 1 {
		if i&1 != 0 {
			ctx.Write([]byte{0})
		} else if len(pw) > 0 {
			ctx.Write(pw[:1])
		}
	}
	final = ctx.Sum(nil)
	for i := 0; i < 1000; i++ {
		c := md5.New()
		if i&1 != 0 {
			c.Write(pw)
		} else {
			c.Write(final)
		}
		if i%3 != 0 {
			c.Write([]byte(salt))
		}
		if i%7 != 0 {
			c.Write(pw)
		}
		if i&1 != 0 {
			c.Write(final)
		} else {
			c.Write(pw)
		}
		final = c.Sum(final[:0])
	}
	var b strings.Builder
	b.WriteString(magic)
	b.WriteString(salt)
	b.WriteByte('$')
	f := func(i int) uint32 { return uint32(final[i]) }
	to64(&b, f(0)<<16|f(6)<<8|f(12), 4)
	to64(&b, f(1)<<16|f(7)<<8|f(13), 4)
	to64(&b, f(2)<<16|f(8)<<8|f(14), 4)
	to64(&b, f(3)<<16|f(9)<<8|f(15), 4)
	to64(&b, f(4)<<16|f(10)<<8|f(5), 4)
	to64(&b, f(11), 2)
	return b.String()
}

// Byte orders of the SHA-crypt encodings (Drepper's specification): each
// triple is encoded as 4 characters, the last entry with fewer.
var (
	sha256Order = [][3]int{{0, 10, 20}, {21, 1, 11}, {12, 22, 2}, {3, 13, 23}, {24, 4, 14},
		{15, 25, 5}, {6, 16, 26}, {27, 7, 17}, {18, 28, 8}, {9, 19, 29}}
	sha512Order = [][3]int{{0, 21, 42}, {22, 43, 1}, {44, 2, 23}, {3, 24, 45}, {25, 46, 4},
		{47, 5, 26}, {6, 27, 48}, {28, 49, 7}, {50, 8, 29}, {9, 30, 51}, {31, 52, 10},
		{53, 11, 32}, {12, 33, 54}, {34, 55, 13}, {56, 14, 35}, {15, 36, 57}, {37, 58, 16},
		{59, 17, 38}, {18, 39, 60}, {40, 61, 19}, {62, 20, 41}}
)

const (
	shaRoundsDefault = 5000
	shaRoundsMin     = 1000
	shaRoundsMax     = 999999999
)

// shaCrypt is SHA-256 crypt ("$5$") or SHA-512 crypt ("$6$"). setting is
// what follows the magic: "[rounds=N$]salt[$hash]". ok is false when the
// setting is malformed.
func shaCrypt(password, magic, setting string) (string, bool) {
	var newHash func() hash.Hash
	var order [][3]int
	switch magic {
	case "$5$":
		newHash, order = sha256.New, sha256Order
	case "$6$":
		newHash, order = sha512.New, sha512Order
	default:
		return "", false
	}
	rounds, custom := shaRoundsDefault, false
	if r, ok := strings.CutPrefix(setting, "rounds="); ok {
		i := strings.IndexByte(r, '$')
		if i < 0 {
			return "", false
		}
		n, err := strconv.ParseUint(r[:i], 10, 64)
		if err != nil {
			return "", false
		}
		rounds = int(min(max(n, shaRoundsMin), shaRoundsMax))
		custom = true
		setting = r[i+1:]
	}
	salt := setting
	if i := strings.IndexByte(salt, '$'); i >= 0 {
		salt = salt[:i]
	}
	if len(salt) > 16 {
		salt = salt[:16]
	}
	pw, s := []byte(password), []byte(salt)

	h := newHash()
	h.Write(pw)
	h.Write(s)
	h.Write(pw)
	b := h.Sum(nil)
	size := len(b)

	h = newHash()
	h.Write(pw)
	h.Write(s)
	for n := len(pw); n > 0; n -= size {
		h.Write(b[:min(n, size)])
	}
	for n := len(pw); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(b)
		} else {
			h.Write(pw)
		}
	}
	a := h.Sum(nil)

	h = newHash()
	for range len(pw) {
		h.Write(pw)
	}
	dp := h.Sum(nil)
	p := make([]byte, 0, len(pw))
	for n := len(pw); n > 0; n -= size {
		p = append(p, dp[:min(n, size)]...)
	}

	h = newHash()
	for range 16 + int(a[0]) {
		h.Write(s)
	}
	ds := h.Sum(nil)
	sb := make([]byte, 0, len(s))
	for n := len(s); n > 0; n -= size {
		sb = append(sb, ds[:min(n, size)]...)
	}

	c := a
	for i := range rounds {
		h = newHash()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(sb)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(p)
		}
		c = h.Sum(c[:0])
	}

	var out strings.Builder
	out.WriteString(magic)
	if custom {
		out.WriteString("rounds=" + strconv.Itoa(rounds) + "$")
	}
	out.WriteString(salt)
	out.WriteByte('$')
	for _, t := range order {
		to64(&out, uint32(c[t[0]])<<16|uint32(c[t[1]])<<8|uint32(c[t[2]]), 4)
	}
	if magic == "$5$" {
		to64(&out, uint32(c[31])<<8|uint32(c[30]), 3)
	} else {
		to64(&out, uint32(c[63]), 2)
	}
	return out.String(), true
}
