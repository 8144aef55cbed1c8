// Command nethttp is an ordinary net/http application, a small JSON API,
// served by Apache httpd through gobridge. The same mux also runs on its
// own:
//
//	nethttp -standalone :8081      # plain net/http, no Apache
//
// and under httpd:
//
//	GoBridgePlugin nethttp /usr/local/libexec/gobridge/nethttp
//	<Location /app>
//	    GoBridgeHandler nethttp
//	    GoBridgeOption greeting "Hello from httpd"
//	</Location>
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/nethttp"
)

func main() {
	standalone := flag.String("standalone", "", "serve on this address with net/http instead of running as a gobridge plugin")
	flag.Parse()
	mux := newMux()
	if *standalone != "" {
		log.Fatal(http.ListenAndServe(*standalone, mux))
	}
	sdk.ServeHandler(nethttp.Handler(mux))
}

type item struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

type store struct {
	mu    sync.Mutex
	items []item
}

func newMux() *http.ServeMux {
	s := &store{items: []item{{1, "apple"}, {2, "pear"}}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /app/{$}", index)
	mux.HandleFunc("GET /app/api/time", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"time": time.Now().UTC().Format(time.RFC3339)})
	})
	mux.HandleFunc("GET /app/api/items", s.list)
	mux.HandleFunc("POST /app/api/items", s.add)
	mux.HandleFunc("GET /app/api/echo", echo)
	return mux
}

func index(w http.ResponseWriter, r *http.Request) {
	greeting := "Hello"
	if env := nethttp.Env(r); env != nil && env.Option("greeting") != "" {
		greeting = env.Option("greeting")
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"greeting":  greeting,
		"endpoints": []string{"GET /app/api/time", "GET /app/api/items", "POST /app/api/items", "GET /app/api/echo"},
	})
}

func (s *store) list(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.items)
}

func (s *store) add(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "name is required"})
		return
	}
	s.mu.Lock()
	it := item{ID: len(s.items) + 1, Name: name}
	s.items = append(s.items, it)
	s.mu.Unlock()
	w.Header().Set("Location", "/app/api/items")
	writeJSON(w, http.StatusCreated, it)
}

func echo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"method": r.Method,
		"path":   r.URL.Path,
		"query":  r.URL.Query(),
		"remote": r.RemoteAddr,
		"host":   r.Host,
		"tls":    r.TLS != nil,
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
