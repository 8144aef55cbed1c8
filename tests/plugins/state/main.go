// Command state is the end-to-end test plugin for per-plugin state and
// for the request-object members. Its content handler counts the requests
// this process has served (one counter shared by every httpd child) and
// answers, one "key=value" per line: its pid and count, its command-line
// arguments, which GoBridgePlugin name and <Location> (and <Files>
// pattern) called it and the
// option "who", and the request-object members of the snapshot (allowed
// methods, virtual host facts, Defines, TLS facts, connection notes).
//
// GET ...?crash=1 makes the process exit at once (a plugin crash).
package main

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"github.com/gobridge/gobridge/sdk"
)

var served atomic.Int64

func pairs(ps []sdk.Pair) string {
	var b []string
	for _, p := range ps {
		b = append(b, p.Key+":"+p.Value)
	}
	return strings.Join(b, ",")
}

func handle(w *sdk.ResponseWriter, r *sdk.Request) error {
	if r.Args == "crash=1" {
		os.Exit(3)
	}
	n := served.Add(1)
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "pid=%d\ncount=%d\nargs=%s\n", os.Getpid(), n, strings.Join(os.Args[1:], " "))
	fmt.Fprintf(w, "plugin=%s\nlocation=%s\nfiles=%s\nwho=%s\n", r.Plugin, r.Location, r.Files, r.Option("who"))
	fmt.Fprintf(w, "allowed=%s\n", strings.Join(r.AllowedMethods, ","))
	fmt.Fprintf(w, "server=%s\naliases=%s\nvirtual=%v\ndefault=%v\n", r.ServerName,
		strings.Join(r.ServerAliases, ","), r.IsVirtualHost, r.IsDefaultVhost)
	fmt.Fprintf(w, "defines=%s\n", strings.Join(r.Defines, ","))
	fmt.Fprintf(w, "connnotes=%s\n", pairs(r.ConnNotes))
	if t := r.TLS; t != nil {
		fmt.Fprintf(w, "tls=%s|%s|%s|%s|%s\n", t.Protocol, t.Cipher, t.SNI, t.ClientVerify, t.ClientSubject)
	} else {
		fmt.Fprintf(w, "tls=none\n")
	}
	fmt.Fprintf(w, "secure=%v\nmtime=%d\n", r.Secure, r.Mtime.Unix())
	return nil
}

func main() {
	sdk.Serve(&sdk.ServeConfig{Handler: sdk.HandlerFunc(handle)})
}
